"""Write stage (CPU tasks): per video the published sound track (fades, loudness, the mix its policy
asks for: vidmusician/publish/), the music stem's wav (and the mix's, when it differs), the muxed mp4
(video stream copied or re-encoded by codec, see mux.py; AAC audio, same duration) and the score row;
the row is written last, as the marker that the soundtrack is complete. Every file appears atomically
under its final name."""
from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import tempfile
import time

import numpy as np
import soundfile

from vidmusician.config.schema import Config
from vidmusician.faults import SourceChanged, failure, retrying
from vidmusician.metrics.video_scores import visual_beats
from vidmusician.mux import VideoPolicy, mux_soundtrack
from vidmusician.publish.mix import KEEP
from vidmusician.publish.track import Published, publish_track
from vidmusician.raycluster import node_id
from vidmusician.soundtrack.candidates import choose
from vidmusician.soundtrack.layout import Layout
from vidmusician.soundtrack.table import SCHEMA
from vidmusician.storage import Storage, StorageError
from vidmusician.video.content import file_sha256
from vidmusician.video.rows import STATUS_OK, unpack

# What a reused soundtrack takes from the current input (the rest comes from the row stored with it).
IDENTITY = ("video_id", "uri", "meta", "decode_s", "decode_node")


def score_row(row: dict, stamp: dict) -> dict:
    """A stage row -> its score-table row. The table publishes the input's `uri` as `source_uri`, and
    the speech segments as flat [start, end, ...] times; an unmeasured source loudness or music
    fraction is null."""
    out = {f.name: row.get(f.name) for f in SCHEMA}
    out["source_uri"] = row["uri"]
    if "speech_json" in row:
        out["speech_times"] = [float(t) for pair in json.loads(row["speech_json"]) for t in pair]
    for key in ("source_lufs", "source_music"):  # not measured: null
        if out.get(key) is not None and math.isnan(out[key]):
            out[key] = None
    out.update(stamp)
    return out


def write_soundtrack(row: dict, cfg: Config, layout: Layout, stamp: dict) -> dict:
    """The Ray Data `map` function of the write stage: a stage row in, a score-table row out."""
    row = dict(row)
    if row["status"] != STATUS_OK or row["duplicate_of"]:  # a duplicate's outcome is its original's
        return score_row(row, stamp)
    if row["mix"] == KEEP:  # its own sound stays: nothing made, nothing written
        return score_row({**row, "video_output": KEEP}, stamp)
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


def write_wav(storage: Storage, uri: str, audio: np.ndarray, sample_rate: int) -> None:
    buf = io.BytesIO()
    soundfile.write(buf, audio, sample_rate, format="WAV")
    storage.write_bytes(uri, buf.getvalue())


def levels(track: Published) -> dict:
    """The score table's loudness columns of a published track."""
    out = {"fade_out_start_s": track.fade_out_start_s}
    for name, level in (("music", track.music_level), ("output", track.output_level)):
        out.update({f"{name}_lufs": level.integrated_lufs, f"{name}_true_peak_dbtp": level.true_peak_dbtp,
                    f"{name}_lra_lu": level.range_lu})
    return out


def video_policy(cfg: Config) -> VideoPolicy:
    st = cfg.soundtrack
    return VideoPolicy(tuple(st.copy_codecs), st.reencode_crf, st.reencode_preset)


def _write(row: dict, cfg: Config, layout: Layout, stamp: dict, start: float) -> dict:
    storage = Storage(cfg.storage)
    data = unpack(row["payload"])
    wavs, sr, digest = np.atleast_2d(data["wav"]), int(data["sample_rate"]), row["content_hash"]
    key, controls = row["output_key"], json.loads(row["controls"])
    pub = cfg.soundtrack.publish
    if "target_lufs" in controls:
        pub = dataclasses.replace(pub, target_lufs=controls["target_lufs"])
    # The source is read again here rather than carried through the generation actors (whole videos
    # would sit in the GPU nodes' object store); what is muxed must be the content that was decoded.
    with storage.local_copy(row["uri"]) as source, tempfile.TemporaryDirectory(prefix="vm-mux-") as tmp:
        if file_sha256(source) != digest:
            raise SourceChanged("the source changed during the run (its content hash differs); a rerun "
                                "soundtracks the new content")
        visual, flow = visual_beats(data["curve"], float(data["curve_rate"])), data["flow_beats"]
        # Best of N, by the scores of the music as made (before fades and loudness).
        chosen, scores, picked = choose(wavs, sr, visual, flow, float(row["duration_s"]), cfg.soundtrack)
        wav = wavs[chosen]
        track = publish_track(wav, sr, np.array(scores["music_beat_times"]), row["mix"], source,
                              np.array(json.loads(row["speech_json"])), pub)
        write_wav(storage, layout.wav(key), track.music, sr)
        if track.mixed:
            write_wav(storage, layout.mix_wav(key), track.audio, sr)
        muxed = os.path.join(tmp, f"{key}.mp4")
        how = mux_soundtrack(source, track.audio, sr, muxed, policy=video_policy(cfg))
        storage.upload_file(muxed, layout.mp4(key))
    done = {**scores, "visual_beat_times": visual.tolist(), "flow_beat_times": flow.tolist(),
            **json.loads(str(data["model_scores"]))[chosen], **picked, **levels(track),
            "music_s": len(wav) / sr,
            "music_uri": layout.wav(key), "mix_uri": layout.mix_wav(key) if track.mixed else None,
            "video_uri": layout.mp4(key), "video_output": how, "write_node": node_id()}
    done["write_s"] = time.perf_counter() - start
    marker = score_row({**row, **done}, stamp)
    storage.write_text(layout.marker(key), json.dumps({k: v for k, v in marker.items()
                                                          if k not in ("meta",)}, default=float))
    return done

