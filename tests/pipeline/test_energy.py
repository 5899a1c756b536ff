"""Energy records: arithmetic by hand, the CPU fallback, RAPL's counters
(read from files laid out as the kernel lays them out), and the report's
Wh and CO2e per image."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal

import pytest

from audit.common import energy
from audit.common.energy import EnergyMeter, counter_delta, integrate, per_image
from tests.conftest import run_cli


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        sum(range(1000))


def test_trapezoid_and_counter_wrap_by_hand():
    # 1 s between 100 and 200 W, then 2 s at 200 W: 150 + 400 J
    assert integrate([(0.0, 100.0), (1.0, 200.0), (3.0, 200.0)]) == pytest.approx(550.0)
    assert integrate([(5.0, 80.0)]) == 0.0
    assert counter_delta(90, 130, wrap=1000) == 40
    assert counter_delta(990, 30, wrap=1000) == 40  # wrapped once


def test_cpu_fallback_is_labelled_an_estimate(monkeypatch):
    monkeypatch.setattr(energy, "RAPL", energy.Path("/nonexistent-powercap"))
    for watts in (None, "10"):
        if watts:
            monkeypatch.setenv("T2I_AUDIT_CPU_WATTS_PER_CORE", watts)
        with EnergyMeter("cpu") as meter:
            burn(0.3)
        record = meter.result
        cpu = record["cpu"]
        assert cpu["source"].startswith("estimate") and cpu["cpu_seconds"] >= 0.29
        expected = float(watts or energy.CPU_WATTS_PER_CORE)
        assert cpu["watts_per_core"] == expected
        assert cpu["joules"] == pytest.approx(cpu["cpu_seconds"] * expected, abs=0.01)
        assert record["gpu"]["joules"] is None and record["gpu"]["why_not"].startswith(
            "no GPU used")
        assert record["seconds"] >= 0.29
    done = per_image(record, 4)
    assert done["cpu"]["wh_per_image"] == pytest.approx(cpu["joules"] / 3600 / 4, rel=1e-3)
    assert done["gpu"]["wh_per_image"] is None and done["images"] == 4


def test_rapl_counters_are_read_per_package_with_wraparound(monkeypatch, tmp_path):
    for name, value in (("intel-rapl:0", 999_000_000), ("intel-rapl:1", 5_000_000),
                        ("intel-rapl:0:0", 1)):  # a subdomain: inside package 0, not added
        domain = tmp_path / name
        domain.mkdir()
        (domain / "energy_uj").write_text(f"{value}\n")
        (domain / "max_energy_range_uj").write_text("1000000000\n")
    monkeypatch.setattr(energy, "RAPL", tmp_path)
    meter = EnergyMeter("cpu").start()
    (tmp_path / "intel-rapl:0/energy_uj").write_text("2000000\n")  # wrapped: +3 J
    (tmp_path / "intel-rapl:1/energy_uj").write_text("9500000\n")  # +4.5 J
    (tmp_path / "intel-rapl:0:0/energy_uj").write_text("900000000\n")
    record = meter.stop()
    assert record["cpu"]["joules"] == pytest.approx(7.5)
    assert record["cpu"]["source"].startswith("rapl")


def test_a_cuda_device_without_nvml_says_why(monkeypatch):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: see the gpu-marked test")
    with EnergyMeter("cuda:0") as meter:
        pass
    assert meter.result["gpu"]["joules"] is None
    assert "NVML" in meter.result["gpu"]["why_not"]


@pytest.mark.gpu
def test_nvml_measures_gpu_work():
    import torch

    x = torch.randn(4096, 4096, device="cuda")
    with EnergyMeter("cuda:0") as meter:
        for _ in range(200):
            x = x @ x
            x = x / x.norm()
        torch.cuda.synchronize()
    assert meter.result["gpu"]["joules"] > 0 and meter.result["gpu"]["source"].startswith("nvml")


def test_run_json_and_report_carry_energy_per_image(tmp_path):
    run = tmp_path / "run"
    result = run_cli("run", "smoke", "--model", "tiny", "--out", str(run), "--scorers",
                     "clip,skin_tone", "-S", "clip.model=tiny-random",
                     "-S", "clip.pretrained=none")
    assert result.returncode == 0, result.stderr
    assert re.search(r"energy: GPU not measured \(no GPU used \(device cpu\)\), CPU [\d.e-]+ Wh "
                     r"\(estimate\); [\d.e-]+ Wh per image generated", result.stdout)
    card = json.loads((run / "run.json").read_text())
    generated = card["history"][-1]["energy"]
    assert generated["images"] == 8 and generated["cpu"]["joules"] > 0
    scored = card["scored"]["energy"]
    # on a CPU the eight are scored from their PNGs after generation, and
    # that energy is counted apart from generation's
    assert scored["images"] == 8 and scored["cpu"]["joules"] > 0

    page = run_cli("report", str(run), "--grid-intensity", "300")
    assert page.returncode == 0, page.stderr
    html = (run / "report.html").read_text()
    wh = (generated["cpu"]["joules"] + scored["cpu"]["joules"]) / 3600 / 8
    shown = re.search(r"<b>([\d.e-]+) Wh per image</b>, about <b>([\d.e-]+) g CO2e per "
                      r"image</b> at a grid intensity of 300.0", html)
    assert shown, html[html.index('id="energy"'):][:800]
    for text, value in ((shown.group(1), wh), (shown.group(2), wh * 300 / 1000)):
        # equal to the number rounded to the digits shown (3 significant, or 3 decimals)
        last_digit = 10.0 ** Decimal(text).as_tuple().exponent
        assert abs(float(text) - value) <= last_digit / 2 * (1 + 1e-9), (text, value)
    assert "lower bound" not in html  # no GPU was used, so none is missing

    bad = run_cli("report", str(run), "--grid-intensity", "-5")
    assert bad.returncode == 2 and "grid intensity" in bad.stderr
