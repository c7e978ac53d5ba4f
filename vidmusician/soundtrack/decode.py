"""CPU stage of the soundtracking job: one input -> one row. Hashes the file, reuses a finished
soundtrack of the same content (same model version), else decodes frames at the rhythm rate at the
encoder's size and finds the video's flow beats. Any failure is an error row with its reason.
No torch here: Ray workers import this module to run it."""
from __future__ import annotations

import time

import numpy as np

from vidmusician.config.schema import Config
from vidmusician.metrics.flow_beats import flow_beats
from vidmusician.raycluster import node_id
from vidmusician.soundtrack.layout import Layout
from vidmusician.storage import ObjectNotFound, Storage, StorageError
from vidmusician.video.content import file_sha256
from vidmusician.video.errors import error_reason
from vidmusician.video.frames import open_video, sample_times, too_short
from vidmusician.video.rows import STATUS_ERROR, STATUS_OK, pack, video_row


def stage_row(item: dict, status: str = STATUS_OK, reason: str = "", **fields) -> dict:
    """The per-video row with what the soundtracking stages add: reuse, per-stage timings and nodes."""
    return video_row(item, status, reason, **{
        "reused": False, "artefact": "", "decode_s": 0.0, "features_s": 0.0, "generate_s": 0.0,
        "write_s": 0.0, "decode_node": node_id(), "generate_node": "", "write_node": "", **fields})


def decode_for_soundtrack(item: dict, cfg: Config, layout: Layout) -> dict:
    """The Ray Data `map` function of the decode stage."""
    start = time.perf_counter()
    storage = Storage(cfg.storage)
    try:
        with storage.local_copy(item["uri"]) as path:
            row = _decode(item, path, cfg, layout, storage)
    except StorageError as err:  # reading the input: the storage says why
        row = stage_row(item, STATUS_ERROR, error_reason(err, item["uri"]))
    except Exception as err:  # every other failure is still one error row, never a crashed job
        row = stage_row(item, STATUS_ERROR, error_reason(err, stage="decode"))
    row["decode_s"] = time.perf_counter() - start
    return row


def _decode(item: dict, path: str, cfg: Config, layout: Layout, storage: Storage) -> dict:
    digest = file_sha256(path)
    try:  # one GET: the same content was soundtracked by this model version already
        return stage_row(item, content_hash=digest, reused=True, artefact=storage.read_text(layout.marker(digest)))
    except ObjectNotFound:
        pass
    video = open_video(path, cfg.model.clip.image_size, cfg.soundtrack.decode_num_cpus)
    duration = video.duration_s
    common = dict(content_hash=digest, duration_s=duration)
    short = too_short(duration, cfg.video.min_duration_s)
    if short:
        return stage_row(item, STATUS_ERROR, short, **common)
    if duration > cfg.soundtrack.max_duration_s:
        return stage_row(item, STATUS_ERROR, f"too long ({duration:.0f} s > {cfg.soundtrack.max_duration_s} s)",
                         **common)
    fps = cfg.model.rhythm.fps
    frames = video.at(sample_times(duration, fps))
    scfg = cfg.soundtrack.scores
    beats = flow_beats(frames, fps, scfg.flow_size, scfg.flow_bins)
    return stage_row(item, payload=pack(frames=frames, flow_beats=beats.astype(np.float64)), **common)
