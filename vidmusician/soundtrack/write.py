"""Write stage (CPU tasks): per video the wav, the muxed mp4 (video stream copied or re-encoded by
codec, see mux.py; AAC music, same duration) and the score row; the row is written last, as the marker that the soundtrack is complete.
Every file appears atomically under its final name. No torch here."""
from __future__ import annotations

import io
import json
import os
import tempfile
import time

import soundfile

from vidmusician.config.schema import Config
from vidmusician.faults import SourceChanged, failure, retrying
from vidmusician.metrics.video_scores import rhythm_scores, visual_beats
from vidmusician.mux import VideoPolicy, mux_soundtrack
from vidmusician.raycluster import node_id
from vidmusician.soundtrack.layout import Layout
from vidmusician.soundtrack.table import SCHEMA
from vidmusician.storage import Storage, StorageError
from vidmusician.video.content import file_sha256
from vidmusician.video.rows import STATUS_OK, unpack

# What a reused soundtrack takes from the current input (the rest comes from the row stored with it).
IDENTITY = ("video_id", "uri", "meta", "decode_s", "decode_node")


def score_row(row: dict, stamp: dict) -> dict:
    """A stage row -> its score-table row. The table publishes the input's `uri` as `source_uri`."""
    out = {f.name: row.get(f.name) for f in SCHEMA}
    out["source_uri"] = row["uri"]
    out.update(stamp)
    return out


def write_soundtrack(row: dict, cfg: Config, layout: Layout, stamp: dict) -> dict:
    """The Ray Data `map` function of the write stage: a stage row in, a score-table row out."""
    row = dict(row)
    if row["status"] != STATUS_OK or row["duplicate_of"]:  # a duplicate's outcome is its original's
        return score_row(row, stamp)
    if row["reused"]:
        stored = json.loads(row["artefact"])
        return score_row({**stored, **{k: row[k] for k in IDENTITY}, "reused": True}, stamp)
    start = time.perf_counter()
    try:
        row.update(retrying(lambda: _write(row, cfg, layout, stamp, start), cfg.retry))
    except StorageError as err:  # a failed write leaves no marker: not done, the next run writes it
        row["status"], row["reason"] = failure(err, stage="write")
    except Exception as err:  # a source the muxer cannot read is this video's error row
        row["status"], row["reason"] = failure(err, row["uri"], stage="write")
    return score_row(row, stamp)


def video_policy(cfg: Config) -> VideoPolicy:
    st = cfg.soundtrack
    return VideoPolicy(tuple(st.copy_codecs), st.reencode_crf, st.reencode_preset)


def _write(row: dict, cfg: Config, layout: Layout, stamp: dict, start: float) -> dict:
    storage = Storage(cfg.storage)
    data = unpack(row["payload"])
    wav, sr, digest = data["wav"], int(data["sample_rate"]), row["content_hash"]
    # The source is read again here rather than carried through the generation actors (whole videos
    # would sit in the GPU nodes' object store); what is muxed must be the content that was decoded.
    with storage.local_copy(row["uri"]) as source, tempfile.TemporaryDirectory(prefix="vm-mux-") as tmp:
        if file_sha256(source) != digest:
            raise SourceChanged("the source changed during the run (its content hash differs); a rerun "
                                "soundtracks the new content")
        buf = io.BytesIO()
        soundfile.write(buf, wav, sr, format="WAV")
        storage.write_bytes(layout.wav(digest), buf.getvalue())
        muxed = os.path.join(tmp, f"{digest}.mp4")
        how = mux_soundtrack(source, wav, sr, muxed, policy=video_policy(cfg))
        storage.upload_file(muxed, layout.mp4(digest))
    visual, flow = visual_beats(data["curve"], float(data["curve_rate"])), data["flow_beats"]
    scores = rhythm_scores(visual, wav, sr, float(row["duration_s"]), flow=flow)
    done = {**scores, "visual_beat_times": visual.tolist(), "flow_beat_times": flow.tolist(),
            **json.loads(str(data["model_scores"])), "music_s": len(wav) / sr,
            "music_uri": layout.wav(digest), "video_uri": layout.mp4(digest), "video_output": how,
            "write_node": node_id()}
    done["write_s"] = time.perf_counter() - start
    marker = score_row({**row, **done}, stamp)
    storage.write_text(layout.marker(digest), json.dumps({k: v for k, v in marker.items()
                                                          if k not in ("meta",)}, default=float))
    return done

