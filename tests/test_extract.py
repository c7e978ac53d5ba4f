"""The feature pipeline on local Ray: a local folder and a real S3 server, synthetic and real clips,
and broken inputs that must become error rows with reasons."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from model_fixtures import debug_config
from vidmusician.extract.format import FEATURES_DIR
from vidmusician.extract.pipeline import run_extract
from vidmusician.storage import Storage, join_uri
from vidmusician.synth.world import write_world

ASSETS = Path(__file__).parent / "assets"
LM_RATE, RHYTHM_FPS = 50.0, 25.0
EXPECTED_ERRORS = {"truncated": "cannot open video", "empty": "cannot open video", "text": "cannot open video",
                   "bikes": "no audio track", "missing": "storage: "}


@pytest.fixture(scope="module")
def inputs_dir(tmp_path_factory):
    """Synthetic videos with music, two real clips and three broken files."""
    root = tmp_path_factory.mktemp("inputs")
    cfg = debug_config("world.num_videos=3")
    truth = write_world(cfg, str(root / "world")).to_pylist()
    videos = root / "videos"
    videos.mkdir()
    for row in truth:
        shutil.copy(row["uri"], videos / f"{row['video_id']}.mp4")
    shutil.copy(ASSETS / "bigbuckbunny.mp4", videos / "bigbuckbunny.mp4")
    shutil.copy(ASSETS / "bikes.mp4", videos / "bikes.mp4")
    data = (videos / f"{truth[0]['video_id']}.mp4").read_bytes()
    (videos / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "text.mp4").write_text("not a video at all\n")
    return videos, truth


def manifest(videos: Path, prefix: str) -> list[dict]:
    rows = [{"uri": join_uri(prefix, p.name), "video_id": p.stem, "source": "test"}
            for p in sorted(videos.iterdir())]
    return rows + [{"uri": join_uri(prefix, "missing.mp4"), "video_id": "missing", "source": "test"}]


def check_run(result, truth, storage: Storage, output: str, n_inputs: int):
    outcomes = {r["video_id"]: r for r in result.outcomes.to_pylist()}
    assert len(outcomes) == result.outcomes.num_rows == n_inputs  # exactly one outcome per input
    for vid, needle in EXPECTED_ERRORS.items():
        assert outcomes[vid]["status"] == "error" and needle in outcomes[vid]["reason"], outcomes[vid]
    for row in truth:
        assert outcomes[row["video_id"]]["status"] == "ok" and outcomes[row["video_id"]]["windows"] == 1
    bunny = outcomes["bigbuckbunny"]
    assert bunny["status"] == "ok" and bunny["windows"] == 2 and abs(bunny["duration_s"] - 5.3) < 0.1
    assert all(r["content_hash"] for r in outcomes.values() if r["status"] == "ok")
    assert json.loads(bunny["meta"]) == {"source": "test"}

    shards = storage.list(join_uri(output, FEATURES_DIR), suffixes=(".parquet",))
    fs, _ = storage.arrow_fs(output)
    tables = [pq.read_table(storage.arrow_fs(s)[1], filesystem=fs) for s in shards]
    rows = [r for t in tables for r in _rows(t)]
    assert len(rows) == sum(r["windows"] for r in outcomes.values())
    frames, tokens = int(4.0 * LM_RATE), 4
    for r in rows:
        assert r["codes"].shape == (4, frames) and r["codes"].dtype == np.int16
        assert r["rhythm"].shape == (frames, 2) and r["cls"].shape == (tokens, 32)
        assert r["frame_mask"].shape == (frames,) and r["cls_mask"].shape == (tokens,)
    last = next(r for r in rows if r["video_id"] == "bigbuckbunny" and r["window_index"] == 1)
    valid = int(last["frame_mask"].sum())
    assert abs(valid - 1.3 * LM_RATE) <= 2 and not last["rhythm"][valid:].any()  # padded and masked
    for gt in truth:  # the rhythm curve peaks at the ground-truth events, +-1 frame at 25 fps
        r = next(r for r in rows if r["video_id"] == gt["video_id"])
        skip = int(LM_RATE / RHYTHM_FPS)  # d_0 = 1 (by definition) bleeds into the interpolated frames
        peaks = strongest_peaks(r["rhythm"][:, 0], len(gt["event_times"]), skip) / LM_RATE
        assert np.all(np.abs(peaks - np.array(gt["event_times"])) <= 1 / RHYTHM_FPS + 1e-6), (peaks, gt)


def strongest_peaks(curve: np.ndarray, count: int, skip: int) -> np.ndarray:
    """The `count` largest values, each suppressing its neighbourhood (an event can span 2 frames;
    world events are >= 0.4 s apart)."""
    curve = curve.astype(np.float64).copy()
    curve[:skip] = -np.inf
    radius = int(0.2 * LM_RATE)
    picks = []
    for _ in range(count):
        i = int(np.argmax(curve))
        picks.append(i)
        curve[max(0, i - radius):i + radius + 1] = -np.inf
    return np.sort(np.array(picks))


def _rows(table):
    cols = {name: table.column(name).to_numpy() if "tensor" in str(table.column(name).type)
            else table.column(name).to_pylist() for name in table.column_names}
    return [{k: v[i] for k, v in cols.items()} for i in range(table.num_rows)]


def test_extract_from_a_local_folder(ray_local, inputs_dir, tmp_path):
    videos, truth = inputs_dir
    man = tmp_path / "manifest.jsonl"
    rows = manifest(videos, str(videos))
    man.write_text("\n".join(json.dumps(r) for r in rows))
    out = str(tmp_path / "out")
    cfg = debug_config(f"input={man}", f"output={out}")
    result = run_extract(cfg)
    check_run(result, truth, Storage(), out, len(rows))
    assert "errors 5" in result.summary and "inputs 9" in result.summary
    assert "3 x cannot open video" in result.summary and "1 x no audio track" in result.summary


def test_extract_from_s3(ray_local, inputs_dir):
    videos, truth = inputs_dir
    storage = Storage()
    bucket = ray_local.new_bucket("extract")
    prefix = f"s3://{bucket}/videos"
    for p in videos.iterdir():
        storage.upload_file(str(p), join_uri(prefix, p.name))
    rows = manifest(videos, prefix)
    storage.write_text(f"s3://{bucket}/manifest.jsonl", "\n".join(json.dumps(r) for r in rows))
    out = f"s3://{bucket}/features-run"
    result = run_extract(debug_config(f"input=s3://{bucket}/manifest.jsonl", f"output={out}"))
    check_run(result, truth, storage, out, len(rows))
    assert storage.exists(join_uri(out, "outcomes.parquet"))
