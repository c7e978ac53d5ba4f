"""The train job given videos (debug preset, local Ray): from a folder with broken files among the
videos (windows in Ray's object store), from an S3 prefix (features written to storage), and the
windows it trains on equal to the extract job's for the same inputs."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from model_fixtures import FAST_FAILURE, TRAIN_ARGS, debug_config
from vidmusician.extract.format import ARRAYS, FEATURES_DIR, OUTCOMES_NAME
from vidmusician.extract.pipeline import run_extract
from vidmusician.models.builders import build_model
from vidmusician.models.checkpoint import load_adapters
from vidmusician.storage import Storage, join_uri
from vidmusician.synth.world import write_world
from vidmusician.train.feature_data import feature_shards, read_windows
from vidmusician.train.run import run_training
from vidmusician.train.video_data import InputsNotDone, split_windows, video_windows, window_arrays

VIDEOS = 8
BROKEN = {"truncated": "cannot open video", "notes": "cannot open video"}
# Fewer steps than the trainer's own tests: what is tested here is the data path.
SHORT = ("train.stage1.steps=4", "train.stage2.steps=4", "train.val_every=2", "train.checkpoint_every=2")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("from_videos")
    truth = write_world(debug_config(f"world.num_videos={VIDEOS}"), str(root / "world")).to_pylist()
    folder = root / "videos"
    folder.mkdir()
    for row in truth:
        shutil.copy(row["uri"], folder / f"{row['video_id']}.mp4")
    data = (folder / f"{truth[0]['video_id']}.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (folder / "notes.mp4").write_text("not a video\n")
    return folder


def check_outcomes(uri: str, storage: Storage) -> None:
    """One row per input: the world's videos ok, each broken file an error with its reason."""
    rows = {r["uri"].rsplit("/", 1)[-1][:-4]: r for r in storage.read_parquet(uri).to_pylist()}
    assert len(rows) == VIDEOS + len(BROKEN)
    for name, reason in BROKEN.items():
        assert rows[name]["status"] == "error" and reason in rows[name]["reason"], rows[name]
    assert sum(r["status"] == "ok" and r["windows"] == 1 for r in rows.values()) == VIDEOS


def check_run(result, out: str, storage: Storage) -> None:
    assert [s.stage for s in result.stages] == [1, 2] and sum(result.videos) == VIDEOS
    assert all(s.metrics["step"] == 4 for s in result.stages)
    model = build_model(debug_config().model)
    before = {k: v.clone() for k, v in model.adapter_state_dict().items()}
    load_adapters(model, result.adapters, storage.cfg)
    assert any(not torch.equal(before[k], v) for k, v in model.adapter_state_dict().items())  # trained
    check_outcomes(join_uri(out, OUTCOMES_NAME), storage)


def test_train_from_a_folder_of_videos(ray_local, videos, tmp_path):
    out = str(tmp_path / "run")
    result = run_training(debug_config(f"input={videos}", f"output={out}", *TRAIN_ARGS, *SHORT))
    check_run(result, out, Storage())
    assert not (tmp_path / "run" / FEATURES_DIR).exists()  # the windows stayed in the object store


def test_train_from_an_s3_prefix_with_features_to_storage(ray_local, videos):
    s3 = ray_local
    bucket = s3.new_bucket("fromvideos")
    storage = Storage(debug_config().storage)
    for path in sorted(videos.iterdir()):
        storage.upload_file(str(path), f"s3://{bucket}/videos/{path.name}")
    out = f"s3://{bucket}/run"
    result = run_training(debug_config(f"input=s3://{bucket}/videos", f"output={out}",
                                       "train.video_features=storage", *TRAIN_ARGS, *SHORT))
    check_run(result, out, storage)
    assert feature_shards(join_uri(out, FEATURES_DIR), storage)  # reusable as train.features
    check_outcomes(join_uri(out, FEATURES_DIR, OUTCOMES_NAME), storage)


def test_the_windows_trained_on_equal_the_extract_jobs(ray_local, videos, tmp_path):
    """Same inputs, same config: the object store's windows and the extract job's shards hold the
    same windows, bit for bit, and the validation split takes whole videos."""
    cfg = debug_config(f"input={videos}", f"output={tmp_path / 'streamed'}")
    storage = Storage()
    found = video_windows(cfg, storage, log=lambda *_: None)
    val = frozenset(found.ok_videos()[:2])
    split = split_windows(found, val)
    train_ids, train = window_arrays(split["train"])
    val_ids, held = window_arrays(split["val"])
    assert {v for v, _ in val_ids} == val and not {v for v, _ in train_ids} & val
    ids = train_ids + val_ids
    streamed = {k: np.concatenate([train[k], held[k]]) for k in ARRAYS}

    run_extract(debug_config(f"input={videos}", f"output={tmp_path / 'extracted'}"))
    shard_ids, shards = read_windows(str(tmp_path / "extracted"), storage, ["window_index", *ARRAYS])
    extracted = [(v, int(w)) for v, w in zip(shard_ids, shards["window_index"])]
    assert sorted(ids) == sorted(extracted) and len(ids) == VIDEOS
    mine, theirs = np.argsort([f"{v}:{w:06d}" for v, w in ids]), np.argsort([f"{v}:{w:06d}" for v, w in extracted])
    for k in ARRAYS:
        assert np.array_equal(streamed[k][mine], shards[k][theirs]), k


def test_no_training_data_and_inputs_not_done_are_refused(ray_local, videos, tmp_path):
    with pytest.raises(ValueError, match="no training data"):
        run_training(debug_config(f"output={tmp_path / 'none'}"))
    # One input behind a storage fault that outlasts the retries: the run stops before training (not
    # on a silently partial set), and its outcomes say which input to rerun.
    missing = "s3://vm-no-such-bucket-4242/v0.mp4"
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("uri\n" + "".join(f"{p}\n" for p in sorted(videos.glob("s*.mp4"))) + f"{missing}\n")
    out = tmp_path / "nd"
    with pytest.raises(InputsNotDone, match="1 inputs not done"):
        run_training(debug_config(f"input={manifest}", f"output={out}", *FAST_FAILURE))
    rows = Storage().read_parquet(str(out / OUTCOMES_NAME)).to_pylist()
    assert sorted(r["status"] for r in rows) == ["not_done"] + ["ok"] * VIDEOS
    assert [r["uri"] for r in rows if r["status"] == "not_done"] == [missing]
    assert not (out / "stage1").exists()
