"""What the board says about itself: CPU, kernel, runtime, governor, frequency, temperature.

Everything is read from ``/proc`` and ``/sys`` where present; a value the board does not expose is
``None`` (containers and laptops often hide thermal zones), never a guess.
"""

from __future__ import annotations

import glob
import os
import platform
import time
from pathlib import Path
from typing import Any


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    for key in ("model name", "Model", "Hardware"):
        if fields.get(key):
            return fields[key]
    if fields.get("CPU part"):  # Arm: 0xd05 = Cortex-A55
        return {"0xd05": "Arm Cortex-A55", "0xd0b": "Arm Cortex-A76"}.get(
            fields["CPU part"], f"Arm CPU part {fields['CPU part']}"
        )
    return platform.processor() or platform.machine()


def temperature_c() -> float | None:
    """Hottest readable thermal zone (millidegrees in sysfs)."""
    temps = []
    for zone in glob.glob("/sys/class/thermal/thermal_zone*/temp"):
        raw = _read(zone)
        if raw and raw.lstrip("-").isdigit():
            temps.append(int(raw) / 1000.0)
    return max(temps) if temps else None


def frequency_mhz(cpu: int = 0) -> float | None:
    raw = _read(f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq")
    return int(raw) / 1000.0 if raw and raw.isdigit() else None


def governor(cpu: int = 0) -> str | None:
    return _read(f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor")


def sample() -> dict[str, Any]:
    """One thermal/frequency sample (taken between timed runs, never inside one)."""
    return {"t": time.time(), "temp_c": temperature_c(), "freq_mhz": frequency_mhz()}


def board_facts(name: str) -> dict[str, Any]:
    import onnxruntime as ort

    return {
        "name": name,
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "kernel": platform.release(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "providers": list(ort.get_available_providers()),
        "governor": governor(),
        "freq_mhz": frequency_mhz(),
        "temp_c": temperature_c(),
    }


__all__ = ["board_facts", "cpu_model", "frequency_mhz", "governor", "sample", "temperature_c"]
