"""What an audit costs in energy: the GPU measured through NVML, the CPU
measured through RAPL where the kernel exposes it, else estimated from the
process's CPU time. Every figure says how it was obtained, so a report never
passes an estimate off as a measurement.

NVML reports the whole device, so another process on the same GPU is
counted too; the record says so.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Assumed draw of one fully busy CPU core when nothing can be measured: a
# 56-core, 350 W server part (Xeon Platinum 8480+) at its TDP. An assumption,
# labelled as one; T2I_AUDIT_CPU_WATTS_PER_CORE overrides it.
CPU_WATTS_PER_CORE = 6.25
RAPL = Path("/sys/class/powercap")
SAMPLE_SECONDS = 0.1
NO_GPU = "no GPU used"  # power sampling interval where NVML has no energy counter


def integrate(samples: list[tuple[float, float]]) -> float:
    """Joules from (seconds, watts) samples, by the trapezoid rule."""
    pairs = zip(samples[:-1], samples[1:], strict=True)
    return sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in pairs)


def counter_delta(before: int, after: int, wrap: int) -> int:
    """A monotone counter's increase, allowing one wrap-around at ``wrap``."""
    return after - before if after >= before else after + wrap - before


def _nvml_index(device: str) -> int:
    """NVML numbers GPUs physically; torch counts the visible ones."""
    import torch

    index = torch.device(device).index or 0
    mapping = getattr(torch.cuda, "_get_nvml_device_index", None)
    return int(mapping(index)) if mapping is not None else index


class _GpuMeter:
    """The device's energy counter (Volta and later), else its power sampled
    on a thread and integrated."""

    def __init__(self, device: str) -> None:
        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(_nvml_index(device))
        self.name = pynvml.nvmlDeviceGetName(self.handle)
        self.name = self.name.decode() if isinstance(self.name, bytes) else str(self.name)
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        try:
            self.start_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
            self.source = "nvml energy counter"
        except pynvml.NVMLError:
            self.start_mj = None
            self.source = "nvml power samples"
            self._thread = threading.Thread(target=self._sample, daemon=True,
                                            name="gpu-power")
            self._thread.start()

    def _sample(self) -> None:
        while True:
            watts = self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000
            self.samples.append((time.monotonic(), watts))
            if self._stop.wait(SAMPLE_SECONDS):
                return

    def stop(self) -> float:
        if self.start_mj is not None:
            end = self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
            return (end - self.start_mj) / 1000
        self._stop.set()
        self._thread.join()
        return integrate(self.samples)


def _rapl_domains() -> list[Path]:
    """Top-level RAPL package domains (intel-rapl:N), readable ones only."""
    if not RAPL.is_dir():
        return []
    found = []
    for domain in sorted(RAPL.glob("intel-rapl:*")):
        if domain.name.count(":") == 1 and os.access(domain / "energy_uj", os.R_OK):
            found.append(domain)
    return found


def _read_uj(domain: Path, name: str = "energy_uj") -> int:
    return int((domain / name).read_text().strip())


@dataclass
class EnergyMeter:
    """Measures between ``start`` and ``stop``; ``record`` is what run.json
    keeps. Use as a context manager."""

    device: str = "cpu"
    gpu: _GpuMeter | None = field(default=None, init=False, repr=False)
    gpu_error: str | None = field(default=None, init=False)
    _rapl: list[tuple[Path, int]] = field(default_factory=list, init=False, repr=False)
    _cpu_start: float = field(default=0.0, init=False)
    _wall_start: float = field(default=0.0, init=False)
    result: dict[str, Any] | None = field(default=None, init=False)

    def start(self) -> EnergyMeter:
        self._wall_start = time.monotonic()
        self._cpu_start = time.process_time()
        self._rapl = [(d, _read_uj(d)) for d in _rapl_domains()]
        if str(self.device).startswith("cuda"):
            try:
                self.gpu = _GpuMeter(self.device)
            except Exception as exc:  # no driver library, no permission, old GPU
                self.gpu_error = f"{type(exc).__name__}: {exc}"[:200]
        elif self.device == "remote":
            self.gpu_error = "the work ran elsewhere (a paid API or Ray actors); those " \
                             "devices are not metered from here"
        else:
            self.gpu_error = f"{NO_GPU} (device {self.device})"
        return self

    def stop(self) -> dict[str, Any]:
        seconds = time.monotonic() - self._wall_start
        cpu_seconds = time.process_time() - self._cpu_start
        gpu: dict[str, Any]
        if self.gpu is not None:
            joules = self.gpu.stop()
            gpu = {"joules": round(joules, 3), "source": self.gpu.source,
                   "device": self.gpu.name, "scope": "whole device (other processes count)"}
        else:
            gpu = {"joules": None, "source": None, "why_not": self.gpu_error}
        if self._rapl:
            joules = sum(counter_delta(start, _read_uj(d),
                                       _read_uj(d, "max_energy_range_uj")) / 1e6
                         for d, start in self._rapl)
            cpu = {"joules": round(joules, 3), "source": "rapl (measured, whole package)",
                   "cpu_seconds": round(cpu_seconds, 3)}
        else:
            watts = float(os.environ.get("T2I_AUDIT_CPU_WATTS_PER_CORE", CPU_WATTS_PER_CORE))
            cpu = {"joules": round(cpu_seconds * watts, 3),
                   "source": "estimate: this process's CPU seconds x assumed watts per busy "
                             "core (no RAPL counter readable)",
                   "cpu_seconds": round(cpu_seconds, 3), "watts_per_core": watts}
        self.result = {"seconds": round(seconds, 3), "gpu": gpu, "cpu": cpu}
        return self.result

    def __enter__(self) -> EnergyMeter:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        if self.result is None:
            self.stop()


def per_image(record: dict[str, Any], images: int) -> dict[str, Any]:
    """``record`` with its images and watt-hours per image added."""
    out = dict(record)
    out["images"] = images
    for part in ("gpu", "cpu"):
        joules = record[part]["joules"]
        out[part] = {**record[part],
                     "wh_per_image": joules / 3600 / images
                     if joules is not None and images else None}
    return out
