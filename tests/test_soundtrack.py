"""The soundtracking job on local Ray (CPU): a mixed input set in a real S3 server (silent synthetic
videos, real clips, broken files, a missing object) gives one row per input, playable mp4s of the right
duration and scores in range; a second run writes nothing; the review page works in headless
Chromium; a run killed half-way resumes without redoing finished videos; the toy backbone makes music."""
from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av
import decord
import numpy as np
import psutil
import pyarrow.parquet as pq
import pytest

from browser import chromium, console_errors
from model_fixtures import debug_config
from test_mux import video_duration, video_packets
from vidmusician.models.builders import build_model
from vidmusician.models.checkpoint import save_adapters
from vidmusician.soundtrack.prepare import stage_row
from vidmusician.soundtrack.layout import Layout
from vidmusician.soundtrack.pipeline import run_soundtrack
from vidmusician.soundtrack.review import review_page
from vidmusician.soundtrack.write import write_soundtrack
from vidmusician.storage import Storage, join_uri
from vidmusician.synth.world import write_world
from vidmusician.video.content import file_sha256
from vidmusician.video.rows import pack

ROOT = Path(__file__).parent.parent
ASSETS = Path(__file__).parent / "assets"
REAL = ("bigbuckbunny", "bikes")  # 6-channel 48 kHz AAC / no audio track
BROKEN = {"truncated": "decode: cannot open video", "empty": "decode: cannot open video",
          "text": "decode: cannot open video", "missing": "storage: "}
# Music and muxed audio last as long as the video, within one AAC frame (1024 samples at 16 kHz).
DURATION_TOLERANCE_S = 0.07


def audio_seconds(path: str) -> float:
    with av.open(path) as c:
        stream = c.streams.audio[0]
        return sum(f.samples for f in c.decode(stream)) / stream.rate


@pytest.fixture(scope="module")
def mixed(ray_local, tmp_path_factory):
    """Uploads the inputs and a JSONL manifest to the moto server; adapters too."""
    storage, bucket = Storage(), ray_local.new_bucket("soundtrack")
    local = tmp_path_factory.mktemp("inputs")
    cfg = debug_config("world.num_videos=3", "world.with_audio=false")
    silent = write_world(cfg, str(local / "world")).to_pylist()
    files = {r["video_id"]: Path(r["uri"]) for r in silent} | {n: ASSETS / f"{n}.mp4" for n in REAL}
    data = files[silent[0]["video_id"]].read_bytes()
    for name, blob in {"truncated": data[: len(data) // 3], "empty": b"", "text": b"not a video\n"}.items():
        (local / f"{name}.mp4").write_bytes(blob)
        files[name] = local / f"{name}.mp4"
    prefix = f"s3://{bucket}/incoming"
    manifest = []
    for vid, path in sorted(files.items()):
        storage.upload_file(str(path), join_uri(prefix, f"{vid}.mp4"))
        manifest.append({"uri": join_uri(prefix, f"{vid}.mp4"), "video_id": vid, "batch": "night-1"})
    manifest.append({"uri": join_uri(prefix, "missing.mp4"), "video_id": "missing", "batch": "night-1"})
    storage.write_text(join_uri(prefix, "manifest.jsonl"), "\n".join(json.dumps(m) for m in manifest))
    adapters = save_adapters(build_model(cfg.model), f"s3://{bucket}/runs/adapters.safetensors")
    args = [f"input={join_uri(prefix, 'manifest.jsonl')}", f"output=s3://{bucket}/nightly/2026-11-25",
            f"soundtrack.adapters={adapters}", "generation.batch_size=3", "soundtrack.flush_every=2"]
    return storage, files, args


@pytest.fixture(scope="module")
def first(mixed):
    storage, files, args = mixed
    return run_soundtrack(debug_config(*args))


def test_one_row_per_input_with_playable_mp4s_and_scores_in_range(first, mixed, tmp_path):
    storage, files, _ = mixed
    rows = {r["video_id"]: r for r in first.table.to_pylist()}
    assert sorted(rows) == sorted(list(files) + ["missing"]) and first.table.num_rows == len(rows)
    for vid, needle in BROKEN.items():
        assert rows[vid]["status"] == "error" and rows[vid]["reason"].startswith(needle), rows[vid]
        assert rows[vid]["video_uri"] is None and rows[vid]["onset_f1_70ms"] is None
    ok = {v: r for v, r in rows.items() if v not in BROKEN}
    assert dict(first.work) == {"generated": len(ok), "errors": len(BROKEN), "reused": 0, "not_done": 0, "skipped": 0}
    for vid, row in ok.items():
        assert row["status"] == "ok" and json.loads(row["meta"]) == {"batch": "night-1"}
        source = str(files[vid])
        assert abs(row["duration_s"] - video_duration(source)) < DURATION_TOLERANCE_S
        assert abs(row["music_s"] - row["duration_s"]) < DURATION_TOLERANCE_S
        assert row["model_version"] == first.layout.root.rsplit("/", 1)[-1] and row["adapter_version"] != "none"
        out = tmp_path / f"{vid}.mp4"
        out.write_bytes(storage.read_bytes(row["video_uri"]))
        assert video_packets(out) == video_packets(source)  # video stream copied, not re-encoded
        assert len(decord.VideoReader(str(out))) == len(decord.VideoReader(source))
        assert abs(audio_seconds(str(out)) - row["duration_s"]) < DURATION_TOLERANCE_S
        assert abs(video_duration(out) - video_duration(source)) < 1e-3
        for key in ("onset_f1_70ms", "onset_f1_flow_70ms", "beats_hit", "beat_alignment_100ms", "beat_alignment_50ms"):
            assert 0.0 <= row[key] <= 1.0, (vid, key, row[key])
        assert row["beats_coverage"] >= 0 and 30 <= row["tempo_bpm"] <= 300
        assert row["visual_beats"] == len(row["visual_beat_times"]) and row["music_onsets"] >= 0
        assert all(0 <= t <= row["duration_s"] for t in row["visual_beat_times"] + row["music_onset_times"])
        assert row["fad"] is None and row["kl"] is None and row["imagebind"] is None  # absent, not zero
        assert min(row["decode_s"], row["generate_s"], row["write_s"]) > 0
    assert "error: 3 x decode: cannot open video" in first.summary and "error: 1 x storage" in first.summary


def snapshot(storage: Storage, prefix: str) -> dict[str, tuple]:
    client = storage.client()
    bucket, key = prefix[5:].split("/", 1)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    return {o["Key"]: (o["ETag"], o["LastModified"]) for p in pages for o in p.get("Contents", [])}


def test_a_second_run_writes_nothing_new(first, mixed):
    storage, _, args = mixed
    before = snapshot(storage, first.layout.root)
    again = run_soundtrack(debug_config(*args))
    assert snapshot(storage, first.layout.root) == before
    assert dict(again.work) == {"generated": 0, "reused": 0, "errors": 0, "not_done": 0,
                                "skipped": first.table.num_rows}
    assert again.table.equals(first.table)


def test_review_page_in_headless_chromium(first, mixed, tmp_path):
    storage, _, _ = mixed
    for uri in storage.list(first.layout.root):  # a copy of the bucket prefix, opened from disk
        path = tmp_path / uri[len(first.layout.root) + 1:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(storage.read_bytes(uri))
    ok = [r for r in first.table.to_pylist() if r["status"] == "ok"]
    with chromium() as browser:
        browser.get((tmp_path / "review" / "index.html").as_uri())
        deadline = time.time() + 30
        while time.time() < deadline and not browser.execute_script(
                "return Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 1)"):
            time.sleep(0.2)
        players = browser.execute_script(
            "return Array.from(document.querySelectorAll('video')).map(v => [v.readyState, v.duration, v.error])")
        plots = browser.execute_script("return Array.from(document.querySelectorAll('svg.plot')).map(s => "
                                       "[s.getBoundingClientRect().width, s.getBoundingClientRect().height, "
                                       "s.querySelectorAll('line').length])")
        errors_listed = browser.execute_script("return document.querySelectorAll('#errors tr').length - 1")
        console = console_errors(browser)
        # Sorting, on a page of the same rows with planted scores: distinct, in descending input order,
        # and one missing (it goes last either way). Real scores may be equal or already in order.
        planted = [None] + [round(1.0 - i / len(ok), 3) for i in range(1, len(ok))]
        rank = {r["video_id"]: i for i, r in enumerate(ok)}
        rows = [dict(r, onset_f1_70ms=planted[rank[r["video_id"]]]) if r["video_id"] in rank else r
                for r in first.table.to_pylist()]
        sorting = tmp_path / "review" / "sorting.html"
        sorting.write_text(review_page(rows, first.layout, "onset_f1_70ms"))
        browser.get(sorting.as_uri())
        order = "return Array.from(document.querySelectorAll('#videos .video')).map(v => v.dataset.onsetf170ms)"
        initial = browser.execute_script(order)
        browser.find_element("id", "worst").click()
        worst = browser.execute_script(order)
        browser.find_element("id", "best").click()
        best = browser.execute_script(order)
    assert console == []
    assert len(players) == len(ok) and all(state >= 1 and err is None for state, _, err in players)
    assert sorted(round(d, 1) for _, d, _ in players) == sorted(round(r["duration_s"], 1) for r in ok)
    lines = [len(r["visual_beat_times"]) + len(r["flow_beat_times"]) + len(r["music_onset_times"]) for r in ok]
    assert len(plots) == len(ok) and all(w > 100 and h > 30 for w, h, _ in plots)
    assert sorted(p[2] for p in plots) == sorted(lines) and sum(lines) > 0
    shown = ["n/a" if v is None else f"{v:.3f}" for v in planted]
    assert len(ok) >= 3 and initial == shown  # input order, descending
    assert worst == sorted(shown[1:], key=float) + ["n/a"]
    assert best == sorted(shown[1:], key=float, reverse=True) + ["n/a"]
    assert errors_listed == len(BROKEN)


def markers(output: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in output.glob("*/soundtracks/*.json")}


def kill_tree(job: subprocess.Popen) -> None:
    """SIGKILL the job and every process it started (Ray's GCS, raylet and workers; Ray puts some in
    sessions of their own, so the process group alone is not enough), and wait until all are gone."""
    procs = [psutil.Process(job.pid)] + psutil.Process(job.pid).children(recursive=True)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=60)
    job.wait()


def run_job(args: list[str], **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "jobs/soundtrack.py", "preset=debug", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


@pytest.mark.timeout(1200)
def test_a_killed_run_resumes_without_redoing_finished_videos(tmp_path):
    world = write_world(debug_config("world.num_videos=10", "world.with_audio=false", "world.seed=7"),
                        str(tmp_path / "world"))
    output = tmp_path / "out"
    args = [f"input={tmp_path / 'world' / 'videos'}", f"output={output}", "generation.batch_size=1",
            "soundtrack.flush_every=1", "ray.num_cpus=3"]
    job = run_job(args)
    deadline = time.time() + 600
    while len(markers(output)) < 4 and job.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    kill_tree(job)
    before = markers(output)
    assert 4 <= len(before) < world.num_rows, "the kill must land half-way"
    for mp4 in output.glob("*/soundtracks/*.mp4"):  # only complete files are visible under final names
        assert abs(audio_seconds(str(mp4)) - 4.0) < DURATION_TOLERANCE_S
    assert not list(output.glob("*/scores.parquet"))

    rerun = run_job(args)
    log, _ = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, log[-3000:]
    after = markers(output)
    assert {k: after[k] for k in before} == before  # finished soundtracks were not made again
    assert len(after) == world.num_rows
    made = int(log.split("this run: generated ")[1].split(",")[0])
    assert made == world.num_rows - len(before), log[-2000:]
    (scores,) = output.glob("*/scores.parquet")
    table = pq.read_table(scores).to_pylist()
    assert len(table) == world.num_rows and {r["status"] for r in table} == {"ok"}
    assert not [p for p in output.rglob("*") if ".vidmusician-tmp-" in p.name or p.name.endswith(".part")]


@pytest.mark.timeout(2400)
def test_a_source_replaced_before_the_write_stage_is_not_done_and_writes_nothing(tmp_path):
    """The write stage reads the source again to mux it: a different file under the same URI must not
    be muxed under the decoded content's hash. Not the input's fault: not done, the next run makes it."""
    cfg = debug_config()
    source = tmp_path / "clip.mp4"
    shutil.copy(ASSETS / "bikes.mp4", source)
    layout = Layout.of(str(tmp_path / "out"), "v1")
    row = stage_row({"video_id": "clip", "uri": str(source)}, content_hash=file_sha256(str(source)),
                    duration_s=10.0, payload=pack(wav=np.zeros(16000, np.float32), sample_rate=np.array(16000)))
    shutil.copy(ASSETS / "carphone_pristine.mp4", source)  # replaced after decoding
    out = write_soundtrack(row, cfg, layout, {"run_id": "r"})
    assert out["status"] == "not_done" and out["reason"].startswith("write: the source changed"), out
    assert not (tmp_path / "out").exists()


def test_toy_backbone_soundtracks_silent_videos(ray_local, tmp_path):
    """The base toy backbone (no adapters: null visual conditions) makes music with percussive hits."""
    from vidmusician.config import load_config

    cfg = load_config(["preset=toy", "world.num_videos=3", "world.with_audio=false", "world.seed=11"])
    write_world(cfg, str(tmp_path / "world"))
    result = run_soundtrack(load_config(["preset=toy", f"input={tmp_path / 'world' / 'videos'}",
                                         f"output={tmp_path / 'out'}"]))
    rows = result.table.to_pylist()
    assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"} and rows[0]["adapter_version"] == "none"
    assert all(r["music_onsets"] >= 2 and 40 <= r["tempo_bpm"] <= 250 for r in rows)
    assert np.mean([r["visual_beats"] for r in rows]) >= 2
