"""The options of a config group (``conf/<group>/*.yaml``) and how to read one outside the Hydra app.

Tools that need one option and not a whole run (evaluation, recording's takeover policy, benchmarks)
read it with :func:`load_option`, which follows the option's own ``defaults`` list the way Hydra does
for the cases simbench uses: other configs of the same group (``base/act_onnx@_here_``) or an option
of another group (``/device@_here_: imx95``) merged under the option, then the option itself
(``_self_``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from simbench.config.resolvers import register_resolvers
from simbench.errors import ConfigError
from simbench.paths import CONF_DIR


def available(group: str, searchpath: Sequence[Path] = ()) -> list[str]:
    """Options of a config group: the YAML files in ``conf/<group>/`` and in the same group of each
    extra config directory (``hydra.searchpath``); bases in sub-folders are not options."""
    return sorted({p.stem for root in (CONF_DIR, *searchpath) for p in (Path(root) / group).glob("*.yaml")})


def runnable_policies() -> list[str]:
    """Policies ``run`` accepts: configs that say how many actions a chunk holds. Training-only
    configs (``conf/policy/act.yaml``: model sizes for ``simbench train``) have no
    ``actions_per_chunk`` and are not listed."""
    return [name for name in available("policy") if "actions_per_chunk" in _load(CONF_DIR / "policy", name)]


def _load(group_dir: Any, name: str) -> DictConfig:
    """``<group_dir>/<name>.yaml`` merged over the configs its ``defaults`` list names."""
    node = OmegaConf.load(group_dir / f"{name}.yaml")
    assert isinstance(node, DictConfig)
    defaults = node.pop("defaults", None)
    if defaults is None:
        return node
    merged: list[DictConfig] = []
    for entry in defaults:
        if entry == "_self_":
            merged.append(node)
        elif isinstance(entry, str) and entry.endswith("@_here_"):
            # relative to the containing config's folder, as Hydra resolves it (base/x names base/y as y)
            merged.append(_load(group_dir, (Path(name).parent / entry.removesuffix("@_here_")).as_posix()))
        elif (isinstance(entry, DictConfig) and len(entry) == 1 and str(next(iter(entry))).startswith("/")
              and str(next(iter(entry))).endswith("@_here_")):
            group = str(next(iter(entry)))[1:].removesuffix("@_here_")
            merged.append(_load(CONF_DIR / group, str(next(iter(entry.values())))))
        else:
            raise ConfigError(f"{group_dir.name}/{name}.yaml: defaults entry {entry!r} is not supported outside the "
                              "Hydra app (use NAME@_here_, /GROUP@_here_: NAME or _self_)")
    if "_self_" not in defaults:
        merged.append(node)
    out = OmegaConf.merge(*merged)
    assert isinstance(out, DictConfig)
    return out


def load_option(group: str, name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """``conf/<group>/<name>.yaml`` as a resolved dict, None when there is no such option (for tools
    outside the Hydra app: evaluation, benchmarks). ``overrides`` are set before resolving, so keys
    interpolated from them follow (``+policy=onnx``'s chunk size from its ``model_path``)."""
    if not (CONF_DIR / group / f"{name}.yaml").is_file():
        return None
    register_resolvers()
    loaded = _load(CONF_DIR / group, name)
    for key, value in (overrides or {}).items():
        loaded[key] = value
    node = OmegaConf.to_container(loaded, resolve=True)
    assert isinstance(node, dict)
    return node  # type: ignore[return-value]
