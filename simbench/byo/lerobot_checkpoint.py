"""A LeRobot policy checkpoint folder (``pretrained_model/``), read with numpy alone.

What LeRobot 0.4's ``save_pretrained`` writes (shared reference: lerobot-checkpoint.md):
``config.json`` (``type``, ``input_features``/``output_features`` with types STATE / VISUAL / ENV /
ACTION and shapes, the architecture's fields), ``model.safetensors`` (weights by LeRobot's parameter
names), and the processor pipelines ``policy_preprocessor.json`` / ``policy_postprocessor.json``
whose normalizer steps name a state file of per-feature statistics (``<key>.mean``, ``.std``,
``.min``, ``.max``, ``.q01`` ...). Normalization happens in those steps, not in the model, so the
import reads the modes and statistics from them (the steps' own ``norm_map``, ``features`` and
``eps``: exactly what LeRobot applies).

Every problem is one :class:`ConfigError` line naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simbench.errors import ConfigError

SAFETENSORS_DTYPES: dict[str, Any] = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": "bf16",
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
MAX_HEADER_BYTES = 100_000_000
NORM_MODES = ("IDENTITY", "MEAN_STD", "MIN_MAX", "QUANTILES", "QUANTILE10")
"""LeRobot's ``NormalizationMode`` values; the statistics each needs are in :data:`MODE_STATS`."""
MODE_STATS = {
    "MEAN_STD": ("mean", "std"),
    "MIN_MAX": ("min", "max"),
    "QUANTILES": ("q01", "q99"),
    "QUANTILE10": ("q10", "q90"),
}
PREPROCESSOR = "policy_preprocessor.json"
POSTPROCESSOR = "policy_postprocessor.json"


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a ``.safetensors`` file (8-byte little-endian header size, JSON header, data)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or err}") from None
    if len(data) < 8:
        raise ConfigError(f"{path} is not a safetensors file (too short)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(MAX_HEADER_BYTES, len(data) - 8):
        raise ConfigError(f"{path} is not a safetensors file (header size {size})")
    try:
        header = json.loads(data[8 : 8 + size])
    except ValueError:
        raise ConfigError(f"{path} is not a safetensors file (unreadable header)") from None
    body = memoryview(data)[8 + size :]
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        kind = SAFETENSORS_DTYPES.get(info.get("dtype"))
        begin, end = info["data_offsets"]
        if kind is None or not 0 <= begin <= end <= len(body):
            raise ConfigError(f"{path}: tensor {name!r} has dtype {info.get('dtype')!r} or offsets out of the file")
        raw = body[begin:end]
        if kind == "bf16":  # bfloat16 is the top half of a float32
            array = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, kind)
        out[name] = array.reshape(info["shape"]).copy()
    return out


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path} not found")
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{path} does not hold a JSON object")
    return value


@dataclass(frozen=True)
class Feature:
    key: str
    """``observation.state``, ``observation.images.<camera>``, ``observation.environment_state``, ``action``."""
    type: str
    """STATE | VISUAL | ENV | ACTION."""
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Normalizer:
    """One normalizer (or unnormalizer) step: its mode per feature type, its statistics, its eps."""

    norm_map: dict[str, str]
    stats: dict[str, dict[str, np.ndarray]]
    eps: float
    features: dict[str, Feature]

    def mode(self, feature: Feature) -> str:
        """The mode LeRobot applies to ``feature``: IDENTITY where the step has no statistics for it."""
        mode = self.norm_map.get(feature.type, "IDENTITY")
        return mode if feature.key in self.stats else "IDENTITY"


@dataclass(frozen=True)
class LeRobotCheckpoint:
    path: Path
    config: dict[str, Any]
    weights: dict[str, np.ndarray]
    inputs: list[Feature]
    """The policy's input features in config order."""
    action: Feature
    preprocessor: Normalizer
    postprocessor: Normalizer
    files_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def policy_type(self) -> str:
        return str(self.config.get("type"))

    @property
    def sha256(self) -> str:
        """One digest of the whole checkpoint: the sorted (file name, file sha256) pairs."""
        manifest = "".join(f"{name}\0{digest}\n" for name, digest in sorted(self.files_sha256.items()))
        return hashlib.sha256(manifest.encode()).hexdigest()


def _features(node: Any, where: str) -> dict[str, Feature]:
    if not isinstance(node, dict):
        raise ConfigError(f"{where} is not a mapping of features")
    out = {}
    for key, spec in node.items():
        try:
            out[key] = Feature(key, str(spec["type"]), tuple(int(v) for v in spec["shape"]))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{where}.{key} needs a type and a shape (got {spec!r})") from None
    return out


def _normalizer(folder: Path, name: str, registry: str) -> Normalizer:
    pipeline = _json(folder / name)
    steps = [s for s in pipeline.get("steps", []) if isinstance(s, dict) and s.get("registry_name") == registry]
    if len(steps) != 1:
        raise ConfigError(f"{folder / name} has {len(steps)} '{registry}' steps; the import needs exactly one")
    step = steps[0]
    cfg = step.get("config") or {}
    norm_map = {str(k): str(v) for k, v in (cfg.get("norm_map") or {}).items()}
    for kind, mode in norm_map.items():
        if mode not in NORM_MODES:
            raise ConfigError(
                f"{folder / name}: normalization mode {mode!r} for {kind} is not one of {', '.join(NORM_MODES)}"
            )
    stats: dict[str, dict[str, np.ndarray]] = {}
    if step.get("state_file"):
        for flat, tensor in read_safetensors(folder / str(step["state_file"])).items():
            key, stat = flat.rsplit(".", 1)
            stats.setdefault(key, {})[stat] = tensor.astype(np.float32)
    if cfg.get("normalize_observation_keys") is not None:
        keep = set(cfg["normalize_observation_keys"]) | {"action"}
        stats = {k: v for k, v in stats.items() if k in keep}
    features = _features(cfg.get("features") or {}, f"{name} {registry}.features")
    for key, feature in features.items():
        mode = norm_map.get(feature.type, "IDENTITY")
        if key in stats and mode in MODE_STATS:
            missing = [s for s in MODE_STATS[mode] if s not in stats[key]]
            if missing:
                raise ConfigError(
                    f"{folder / name}: {mode} normalization of {key} needs {', '.join(missing)} statistics"
                )
    return Normalizer(norm_map, stats, float(cfg.get("eps", 1e-8)), features)


def load_checkpoint(path: str | Path) -> LeRobotCheckpoint:
    """Read a ``pretrained_model/`` folder (or the checkpoint folder holding one)."""
    folder = Path(path).expanduser()
    if (folder / "pretrained_model").is_dir():
        folder = folder / "pretrained_model"
    if not folder.is_dir():
        raise ConfigError(f"checkpoint {str(path)!r} is not a folder (give a LeRobot pretrained_model/ folder)")
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{folder} has no config.json: not a LeRobot pretrained_model/ folder")
    config = _json(folder / "config.json")
    if not (folder / PREPROCESSOR).is_file():
        raise ConfigError(
            f"{folder} has no {PREPROCESSOR}: a LeRobot < 0.4 checkpoint keeps its normalization inside the model; "
            "convert it with LeRobot 0.4's migrate_policy_normalization script first"
        )
    if not (folder / "model.safetensors").is_file():
        raise ConfigError(f"{folder} has no model.safetensors")
    inputs = _features(config.get("input_features"), "config.json input_features")
    outputs = _features(config.get("output_features"), "config.json output_features")
    if "action" not in outputs:
        raise ConfigError(f"{folder / 'config.json'} output_features has no 'action'")
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}
    return LeRobotCheckpoint(
        path=folder,
        config=config,
        weights=read_safetensors(folder / "model.safetensors"),
        inputs=list(inputs.values()),
        action=outputs["action"],
        preprocessor=_normalizer(folder, PREPROCESSOR, "normalizer_processor"),
        postprocessor=_normalizer(folder, POSTPROCESSOR, "unnormalizer_processor"),
        files_sha256=files,
    )


__all__ = [
    "MODE_STATS",
    "NORM_MODES",
    "Feature",
    "LeRobotCheckpoint",
    "Normalizer",
    "load_checkpoint",
    "read_safetensors",
]
