"""The one way simbench composes its Hydra configs (``conf/<name>.yaml`` plus overrides).

Every entry point composes here: :func:`compose_dict` for the one-shot commands (record, look,
train, export), :func:`compose_run` / :func:`check_all` for ``run`` and ``hil``. Errors become one
:class:`ConfigError` line. Importing this module registers the OmegaConf resolvers the configs use
(:mod:`simbench.config.resolvers`); ``import simbench`` alone does not.

Why ``run`` composes before Hydra does:

Hydra makes the run directory before the task function runs, so a bad override caught inside the
task would already have written under ``results/``. The ``run`` subcommand therefore composes each
run of the command line here first (every combination of a ``-m`` sweep), turns Hydra's multi-line
errors into one line, and only then hands the command line to Hydra.

A sweep composes with Hydra once per distinct set of config-group choices (``+policy=``,
``scheduler=``, ...) and sets each run's plain ``key=value`` overrides on a copy, as Hydra's own
override step does (``OmegaConf.update``): checking a 1,000-run grid takes seconds, not the ~0.1 s
of a Hydra compose per run.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from simbench.config.options import available
from simbench.config.resolvers import register_resolvers
from simbench.errors import ConfigError, unknown_name
from simbench.paths import CONF_DIR

register_resolvers()  # Hydra workers import this module (through the task function) before composing


RESOLVER_ERROR = "ConfigError raised while resolving interpolation: "
"""How OmegaConf prefixes a resolver's own ConfigError (a model file's contract): dropped, the line is ours."""


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0].removeprefix(RESOLVER_ERROR) if text else type(err).__name__


MULTIRUN_FLAGS = ("-m", "--multirun")


def split_argv(argv: list[str], command: str, takes: str, multirun_ok: bool = True) -> tuple[bool, list[str]]:
    """A subcommand's argv as (multirun, key=value overrides); any other ``-x`` flag is one ConfigError
    naming ``command`` and what it ``takes``."""
    allowed = MULTIRUN_FLAGS if multirun_ok else ()
    flags = [a for a in argv if a.startswith("-") and a not in allowed]
    if flags:
        raise ConfigError(f"unknown option(s) {' '.join(flags)}; {command} takes {takes}")
    return any(a in allowed for a in argv), [a for a in argv if not a.startswith("-")]


def _searchpath_dirs(parsed: list[Override]) -> list[Path]:
    """The local directories ``hydra.searchpath=[file://DIR,...]`` adds: where options beside the core
    live (one YAML next to its one file of code), listed with conf/'s own."""
    values = [ov.value() for ov in parsed if ov.key_or_group == "hydra.searchpath"]
    return [Path(str(item).removeprefix("file://")) for value in values for item in (value or [])
            if str(item).startswith("file://")]


def expand(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override lists of every run the command line asks for (one unless ``-m``)."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        raise ConfigError(f"cannot parse overrides: {_first_line(err)}") from None
    extra = _searchpath_dirs(parsed)
    for ov in parsed:
        group = ov.key_or_group
        if "/" in group or group.startswith("hydra") or not (CONF_DIR / group).is_dir() or ov.is_delete():
            continue
        values = list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [ov.get_value_element_as_str()]
        for value in values:
            if value not in available(group, extra):
                raise unknown_name(group, value, available(group, extra))
        if ov.is_sweep_override() and not multirun:
            raise ConfigError(f"{group}={','.join(values)} is a sweep; add -m to run every value")
    if not multirun:
        return [overrides]
    return [combo for batch in BasicSweeper.split_arguments(parsed, None) for combo in batch]


def _not_a_key(key: str) -> ConfigError:
    return ConfigError(f"{key} is not a config key (to add a new key use +{key}=VALUE)")


def compose_run(config_name: str, overrides: list[str], output_dir_key: str | None = None) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with overrides (hydra/* launcher overrides dropped).

    ``output_dir_key`` (``hydra.run.dir`` or ``hydra.sweep.dir``): also resolve that Hydra path, as
    Hydra would, and return it under the config's ``_output_dir`` key."""
    # hydra.searchpath stays: it says where options beside conf/ live (composing needs them)
    job_overrides = [o for o in overrides if not o.lstrip("+~").startswith("hydra") or o.startswith("hydra.searchpath=")]
    dir_overrides = [o for o in overrides if o.startswith(("hydra.run.dir=", "hydra.sweep.dir="))]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            if output_dir_key is None:
                cfg = compose(config_name=config_name, overrides=job_overrides)
            else:
                from hydra.core.hydra_config import HydraConfig
                from omegaconf import open_dict

                cfg = compose(
                    config_name=config_name, overrides=job_overrides + dir_overrides, return_hydra_config=True
                )
                HydraConfig.instance().set_config(cfg)
                out = str(OmegaConf.select(cfg, output_dir_key))
                with open_dict(cfg):
                    del cfg["hydra"]
                    cfg["_output_dir"] = out
            # Resolve now (inside the Hydra context) so interpolation errors surface here.
            OmegaConf.to_container(cfg, resolve=True)
            return cfg
    except (HydraException, OmegaConfBaseException) as err:
        text = str(err)
        if text.startswith("Could not override") and "To append" in text:
            raise _not_a_key(text.split("'")[1]) from None
        if "hydra/sweeper/optuna" in text:
            raise ConfigError(
                f'{_first_line(err)} (the Optuna sweeper is an extra: pip install -e ".[optuna]")'
            ) from None
        raise ConfigError(_first_line(err)) from None
    finally:
        GlobalHydra.instance().clear()


def compose_dict(config_name: str, overrides: list[str]) -> dict[str, Any]:
    """``conf/<config_name>.yaml`` with overrides, resolved to a plain dict (ConfigError on typos)."""
    cfg = OmegaConf.to_container(compose_run(config_name, overrides), resolve=True)
    assert isinstance(cfg, dict)
    return cfg  # type: ignore[return-value]


def _settable(ov: Override) -> bool:
    """A plain ``key=value`` of an existing key (not a group choice, ``+``, ``++``, ``~`` or hydra.*)."""
    key = ov.key_or_group
    return (ov.type == OverrideType.CHANGE and ov.package is None and not ov.is_sweep_override() and "/" not in key
            and not key.startswith("hydra") and not (CONF_DIR / key).is_dir())


def _with_values(base: DictConfig, overrides: list[Override]) -> DictConfig:
    """``base`` with plain ``key=value`` overrides applied the way Hydra applies them."""
    cfg = copy.deepcopy(base)
    try:
        for ov in overrides:
            try:
                OmegaConf.update(cfg, ov.key_or_group, ov.value(), merge=True)  # struct config: no new keys
            except (ConfigAttributeError, ConfigKeyError):
                raise _not_a_key(ov.key_or_group) from None
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(_first_line(err)) from None
    return cfg


PROGRESS_EVERY = 1000
"""A sweep of more runs than this says how far its check has got every this many runs (on stderr):
checking 20,000 runs takes minutes, which must not look like a hang."""


def check_all(config_name: str, overrides: list[str], multirun: bool, build: Callable[[DictConfig], Any]) -> list[Any]:
    """Compose and build every run; returns what ``build`` returned for each, in order."""
    combos = expand(overrides, multirun)
    parser = OverridesParser.create()
    bases: dict[tuple[str, ...], DictConfig] = {}
    built: list[Any] = []
    every = PROGRESS_EVERY
    show = len(combos) > every
    if show:
        print(f"checking {len(combos):,} runs before launching any", file=sys.stderr, flush=True)
    for i, combo in enumerate(combos, 1):
        if show and i % every == 0:
            print(f"  checked {i:,} of {len(combos):,} runs", file=sys.stderr, flush=True)
        parsed = parser.parse_overrides(combo)
        composed = tuple(str(ov.input_line) for ov in parsed if not _settable(ov))
        if composed not in bases:
            bases[composed] = compose_run(config_name, list(composed))
        built.append(build(_with_values(bases[composed], [ov for ov in parsed if _settable(ov)])))
    return built


def output_dir(config_name: str, overrides: list[str], multirun: bool) -> str:
    """The directory Hydra would write to: ``hydra.run.dir``, or ``hydra.sweep.dir`` with ``-m``."""
    combo = expand(overrides, multirun)[0]
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    return str(compose_run(config_name, combo, output_dir_key=key)["_output_dir"])
