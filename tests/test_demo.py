"""README command 1's job, end to end in a subprocess, as a user runs it."""
from __future__ import annotations

import subprocess
import sys

import soundfile

from vidmusician.synth.world import read_ground_truth


def test_demo_job_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "jobs/demo.py", "preset=debug", f"output={out}"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "6 wavs" in proc.stdout and str(out) in proc.stdout
    assert "stage 1: 10 steps" in proc.stdout and "stage 2: 10 steps" in proc.stdout  # training summary
    assert (out / "train" / "adapters.safetensors").exists()  # the export the music was made with
    silent = read_ground_truth(str(out / "silent")).to_pylist()
    assert len(silent) == 6 and not any(r["has_audio"] for r in silent)
    for row in silent:
        info = soundfile.info(str(out / "music" / f"{row['video_id']}.wav"))
        assert abs(info.frames / info.samplerate - row["duration_s"]) < 1e-3
    assert (out / "config.yaml").exists() and len(read_ground_truth(str(out / "world"))) == 6


def test_jobs_reject_a_bad_config_with_exit_code_2(tmp_path):
    proc = subprocess.run([sys.executable, "jobs/demo.py", "world.num_videoz=2"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "world.num_videoz" in proc.stderr
