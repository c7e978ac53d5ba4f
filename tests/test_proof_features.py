"""The learning proof's shipped training features (vidmusician/evaluation/proof_features.py) are what
the extract job makes now: their stamp equals this checkout's settings, and the first videos of the
proof's training world, extracted again, give the shipped windows bit for bit (a change to the code that
makes features, with no setting changed, fails here: rebuild with jobs/build_proof_features.py)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from vidmusician.config import load_config
from vidmusician.evaluation.proof_features import proof_world, shipped_features
from vidmusician.extract.format import ARRAYS, OUTCOMES_NAME
from vidmusician.extract.pipeline import run_extract
from vidmusician.storage import Storage
from vidmusician.synth.world import write_world
from vidmusician.toy.build import with_toy_backbone
from vidmusician.train.feature_data import read_windows

CHECKED_VIDEOS = 3  # a world's clips do not depend on how many are written: the first ones of the 240


def toy_config():
    return with_toy_backbone(load_config(["preset=toy"]))


def keyed(features_uri: str) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """Windows by (the video file's content hash, window index): a video's id names its URI, which
    differs between the shipped set and a fresh world."""
    storage = Storage()
    content = {r["video_id"]: r["content_hash"] for r in storage.read_parquet(f"{features_uri}/{OUTCOMES_NAME}").to_pylist()}
    ids, arrays = read_windows(features_uri, storage, ["window_index", *ARRAYS])
    return {(content[v], int(w)): {k: arrays[k][i] for k in ARRAYS}
            for i, (v, w) in enumerate(zip(ids, arrays["window_index"]))}


def test_shipped_features_equal_a_fresh_extraction(ray_local, tmp_path):
    cfg = toy_config()
    shipped = shipped_features(cfg)
    assert shipped is not None, "the shipped proof features were made with other settings: rebuild them"
    world = proof_world(cfg)
    write_world(replace(world, world=replace(world.world, num_videos=CHECKED_VIDEOS)), str(tmp_path / "world"))
    run_extract(replace(cfg, input=str(tmp_path / "world" / "videos"), output=str(tmp_path / "features")))
    fresh, made = keyed(str(tmp_path / "features")), keyed(shipped)
    assert len({v for v, _ in fresh}) == CHECKED_VIDEOS and len(made) > len(fresh)
    for key, arrays in fresh.items():
        assert key in made, key
        for name in ARRAYS:
            assert np.array_equal(arrays[name], made[key][name]), (key, name)


def test_other_settings_are_not_served_the_shipped_features():
    cfg = toy_config()
    said = []
    for other in (replace(cfg, proof=replace(cfg.proof, world_seed=cfg.proof.world_seed + 1)),
                  replace(cfg, extract=replace(cfg.extract, window_s=cfg.extract.window_s / 2))):
        assert shipped_features(other, log=said.append) is None
    assert "world" in said[0] and "features" in said[1], said
