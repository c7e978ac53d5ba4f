"""CPU stage of the soundtracking job: one input -> one row. Hashes the file, reuses a finished
soundtrack of the same content (same model version), claims the content for this input (a second
input with the same content waits for the first's outcome instead of generating it again), probes
the video in the isolated decoder (its first frame decodes, its duration is in range), and listens to
its own audio (silent, speech or other sound: the mix policy decides here, so a video that keeps its
sound costs no generation). Frames are decoded later, chunk by chunk, next to the encoder
(generate.py). Torch is imported only by the speech detector, when a video has sound."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import ray

from vidmusician.config.schema import Config
from vidmusician.faults import failure, retrying
from vidmusician.publish.mix import KEEP, REPLACE, mix_for
from vidmusician.publish.speech import SourceAudio, analyse_source_audio
from vidmusician.raycluster import node_id
from vidmusician.soundtrack.controls import ControlError, output_key, parse_controls
from vidmusician.soundtrack.layout import Layout
from vidmusician.storage import ObjectNotFound, Storage, StorageError
from vidmusician.video.content import file_sha256
from vidmusician.video.decoding import isolated_probe
from vidmusician.video.frames import duration_problem
from vidmusician.video.rows import STATUS_ERROR, STATUS_OK, video_row


def stage_row(item: dict, status: str = STATUS_OK, reason: str = "", **fields) -> dict:
    """The per-video row with what the soundtracking stages add: what the probe found, reuse (of a
    finished soundtrack, or of another input's with the same content), timings and nodes per stage."""
    return video_row(item, status, reason, **{
        "video_codec": "", "rotation": 0, "has_audio": False, "reused": False, "duplicate_of": "",
        "source_audio": "", "source_lufs": float("nan"), "speech_s": 0.0, "speech_json": "[]",
        "source_music": float("nan"), "mix_policy": "", "mix": "",
        "controls": "{}", "output_key": "",
        "artefact": "", "decode_s": 0.0, "features_s": 0.0, "generate_s": 0.0, "write_s": 0.0,
        "decode_node": node_id(), "generate_node": "", "write_node": "", **fields})


def source_fields(path: str, has_audio: bool, cfg: Config, policy: str) -> dict:
    """The row's source-audio columns and its mix under `policy`. Under `replace` the source is not
    listened to; the music detector is asked under `keep` alone."""
    pub = cfg.soundtrack.publish
    if not has_audio or policy == REPLACE:
        return {"source_audio": "" if has_audio else "none", "mix_policy": policy, "mix": REPLACE}
    source: SourceAudio = analyse_source_audio(path, cfg, listen_for_music=policy == KEEP)
    music = None if math.isnan(source.music) else source.music >= pub.music_min_fraction
    return {"source_audio": source.kind, "source_lufs": float(source.lufs), "speech_s": source.speech_s,
            "speech_json": json.dumps(np.round(source.speech, 3).tolist()), "source_music": source.music,
            "mix_policy": policy, "mix": mix_for(policy, source.kind, music)}


def prepare_for_soundtrack(item: dict, cfg: Config, layout: Layout, claims) -> dict:
    """The Ray Data `map` function of the prepare stage; `claims`: the run's ContentClaims actor."""
    start = time.perf_counter()
    storage = Storage(cfg.storage)
    try:
        controls = parse_controls(item.get("meta", "{}"))
    except ControlError as err:  # a bad manifest value is this row's error
        return stage_row(item, *failure(err))
    try:
        row = retrying(lambda: _prepare(item, cfg, layout, storage, claims, controls), cfg.retry)
    except StorageError as err:  # reading the input: the storage says why
        row = stage_row(item, *failure(err, item["uri"]))
    except Exception as err:  # every other failure is still one row, never a crashed job
        row = stage_row(item, *failure(err, item["uri"], stage="decode"))
    row["decode_s"] = time.perf_counter() - start
    return row


def _prepare(item: dict, cfg: Config, layout: Layout, storage: Storage, claims, controls: dict) -> dict:
    with storage.local_copy(item["uri"]) as path:
        digest = file_sha256(path)
        key = output_key(digest, controls)
        keys = dict(content_hash=digest, output_key=key, controls=json.dumps(controls, sort_keys=True))
        try:  # one GET: the same content was soundtracked by this model version (and controls) already
            marker = storage.read_text(layout.marker(key))
            json.loads(marker)  # an unreadable marker (a damaged object) is made again
            return stage_row(item, reused=True, artefact=marker, **keys)
        except (ObjectNotFound, ValueError):
            pass
        probe = isolated_probe(path, item["uri"], cfg.model.clip.image_size, cfg.soundtrack.decode_num_cpus,
                               cfg.video)
        common = dict(keys, duration_s=probe.duration_s, video_codec=probe.codec, rotation=probe.rotation,
                      has_audio=probe.has_audio)
        reason = duration_problem(probe.duration_s, cfg.video)
        if reason:
            return stage_row(item, STATUS_ERROR, reason, **common)
        common.update(source_fields(path, probe.has_audio, cfg,
                                    controls.get("mix_policy", cfg.soundtrack.publish.mix_policy)))
    owner = ray.get(claims.claim.remote(key, item["video_id"]))  # the same content with the same controls
    return stage_row(item, duplicate_of="" if owner == item["video_id"] else owner, **common)
