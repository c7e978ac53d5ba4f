"""The GPU benchmark kit (bench/gpu/kit.py) runs on CPU at tiny size, so it never rots between the
sessions that have a GPU to run it on."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "bench" / "gpu" / "kit.py"


def run_kit(out: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run([sys.executable, str(KIT), "--size", "tiny", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    return proc, json.loads((out / "gpu_bench.json").read_text())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return run_kit(tmp_path_factory.mktemp("kit"))


def test_the_kit_measures_every_section_at_tiny_size(tiny_run):
    proc, data = tiny_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert data["errors"] == [] and data["skipped"] == []
    assert data["meta"]["size"] == "tiny" and data["meta"]["device"]
    assert [c["preset"] for c in data["clip"]] == ["debug"] and data["clip"][0]["frames_per_s"] > 0
    assert [t["stage"] for t in data["train"]] == [1, 2]
    for t in data["train"]:
        assert t["adapted_over_base"] == pytest.approx(t["adapted_step_s"] / t["base_step_s"])
    # fp32 on CPU: the static decoder gives exactly the streaming decoder's tokens.
    assert [a["equal_fraction"] for a in data["agreement"]] == [1.0]
    rows = {(g["decoder"], g["seconds"], g["batch"]) for g in data["generation"]}
    assert rows == {(d, s, b) for d in ("fast", "streaming") for s in (0.5, 1.0) for b in (1, 3)}
    for g in data["generation"]:
        music = g["batch"] * g["seconds"]
        assert g["adapted_music_s_per_s"] == pytest.approx(music / g["adapted_s"], rel=0.02)
        assert g["base_music_s_per_s"] == pytest.approx(music / g["base_s"], rel=0.02)
    assert data["profile"] == []  # off unless asked for


def test_a_spent_budget_skips_what_is_left_and_says_so(tmp_path):
    proc, data = run_kit(tmp_path, "--budget-s", "0", "--sections", "clip,generation")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert data["clip"] == [] and data["generation"] == [] and data["train"] == []
    assert "clip debug" in data["skipped"] and "generation fast 0.5s x1" in data["skipped"]
    assert "train stage 1" not in data["skipped"]  # not asked for: neither run nor skipped
