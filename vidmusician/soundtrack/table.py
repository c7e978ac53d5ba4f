"""The score table: one row per input video (ok or error with its reason), its schema, the outcome
parts a run flushes as it goes, and the end-of-run summary."""
from __future__ import annotations

import math
from collections import Counter

import pyarrow as pa

from vidmusician.config.validate import HIGHER_IS_BETTER
from vidmusician.metrics.model_scores import MODEL_SCORE_COLUMNS
from vidmusician.storage import Storage, join_uri
from vidmusician.video.errors import error_reason_kind
from vidmusician.video.rows import STATUS_ERROR, STATUS_NOT_DONE, STATUS_OK

TIMINGS = ("decode_s", "features_s", "generate_s", "write_s")
COUNTS = ("visual_beats", "flow_beats", "music_onsets")
RHYTHM_SCORES = ("tempo_bpm", "onset_f1_70ms", "onset_f1_flow_70ms", "beats_hit", "beats_coverage",
                 "beat_alignment_100ms", "beat_alignment_50ms")
# The times (s) behind the counts, for the review page's plots and for re-scoring later.
BEAT_TIMES = ("visual_beat_times", "flow_beat_times", "music_onset_times", "music_beat_times")
# The published track (vidmusician/publish/): measured loudness of the music stem and of what was muxed.
LEVELS = ("music_lufs", "music_true_peak_dbtp", "music_lra_lu", "output_lufs", "output_true_peak_dbtp",
          "output_lra_lu")
# Scores where higher is better, summarised as means at the end of a run.
MEAN_SCORES = HIGHER_IS_BETTER

SCHEMA = pa.schema(
    [("video_id", pa.string()), ("source_uri", pa.string()), ("meta", pa.string()), ("status", pa.string()),
     ("reason", pa.string()), ("content_hash", pa.string()), ("output_key", pa.string()),
     ("controls", pa.string()), ("duration_s", pa.float64()),
     ("video_codec", pa.string()), ("rotation", pa.int64()), ("has_audio", pa.bool_()),
     ("video_output", pa.string()), ("duplicate_of", pa.string()),
     ("source_audio", pa.string()), ("source_lufs", pa.float64()), ("source_music", pa.float64()),
     ("speech_s", pa.float64()),
     ("speech_times", pa.list_(pa.float64())), ("mix_policy", pa.string()), ("mix", pa.string()),
     ("fade_out_start_s", pa.float64())]
    + [(k, pa.float64()) for k in LEVELS]
    + [("music_s", pa.float64()), ("music_uri", pa.string()), ("mix_uri", pa.string()),
       ("video_uri", pa.string()), ("model", pa.string()), ("model_version", pa.string()),
       ("adapter_version", pa.string()),
       ("config_hash", pa.string()), ("run_id", pa.string()), ("reused", pa.bool_())]
    + [(k, pa.float64()) for k in TIMINGS]
    + [("decode_node", pa.string()), ("generate_node", pa.string()), ("write_node", pa.string())]
    + [(k, pa.int64()) for k in COUNTS] + [(k, pa.float64()) for k in RHYTHM_SCORES]
    + [(k, pa.float64()) for k in MODEL_SCORE_COLUMNS]
    + [(k, pa.list_(pa.float64())) for k in BEAT_TIMES]
    # Best of N: how many candidates, which was kept, and each one's selection score, loudness and
    # sanity issues ("" when clean).
    + [("candidates", pa.int64()), ("chosen_candidate", pa.int64()), ("candidate_scores", pa.list_(pa.float64())),
       ("candidate_lufs", pa.list_(pa.float64())), ("candidate_issues", pa.list_(pa.string()))])


def to_table(rows: list[dict]) -> pa.Table:
    """Rows -> the score table; a column a row lacks is null (absent), never zero."""
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in SCHEMA} for r in rows], schema=SCHEMA)


def read_outcomes(outcomes_dir: str, storage: Storage) -> dict[str, dict]:
    """Every outcome flushed so far under a model version, by video id (a later part wins)."""
    done: dict[str, dict] = {}
    for uri in storage.list(outcomes_dir, suffixes=(".parquet",)):
        for row in storage.read_parquet(uri).to_pylist():
            done[row["video_id"]] = row
    return done


class OutcomeWriter:
    """Buffers finished rows and writes them as numbered Parquet parts (each atomic): a run killed
    between two flushes loses at most the rows since the last one (their artefacts are reused)."""

    def __init__(self, outcomes_dir: str, run_id: str, storage: Storage):
        self.dir, self.run_id, self.storage = outcomes_dir, run_id, storage
        self.buffer: list[dict] = []
        self.parts = 0

    def add(self, row: dict) -> None:
        self.buffer.append(row)

    def flush(self) -> None:
        if not self.buffer:
            return
        uri = join_uri(self.dir, f"part-{self.run_id}-{self.parts:05d}.parquet")
        self.storage.write_parquet(uri, to_table(self.buffer))
        self.parts += 1
        self.buffer = []


def _mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if r.get(key) is not None and not math.isnan(r[key])]
    return sum(values) / len(values) if values else float("nan")


def summarize(rows: list[dict], elapsed_s: float, work: Counter) -> str:
    """The one-screen summary: outcomes, errors by reason, hours of music, throughput, mean scores."""
    ok = [r for r in rows if r["status"] == STATUS_OK]
    errors = Counter(error_reason_kind(r["reason"]) for r in rows if r["status"] == STATUS_ERROR)
    not_done = Counter(error_reason_kind(r["reason"]) for r in rows if r["status"] == STATUS_NOT_DONE)
    hours = sum(r["music_s"] or 0.0 for r in ok) / 3600
    made = work["generated"] + work["reused"] + work["errors"] + work["kept"]
    per_hour = made / elapsed_s * 3600 if elapsed_s > 0 else float("nan")
    lines = [f"videos {len(rows)}: ok {len(ok)}, error {sum(errors.values())}, not done {sum(not_done.values())}",
             f"this run: generated {work['generated']}, reused by content hash {work['reused']}, "
             f"kept their own sound {work['kept']}, "
             f"errors {work['errors']}, not done {work['not_done']}, already done {work['skipped']}",
             f"music {hours:.4f} h; {made} videos in {elapsed_s:.1f} s = {per_hour:.0f} videos/hour"]
    lines += [f"  error: {n} x {reason}" for reason, n in errors.most_common()]
    lines += [f"  not done (the next run retries): {n} x {reason}" for reason, n in not_done.most_common()]
    mixes = ", ".join(f"{mix} {n}" for mix, n in sorted(Counter(r.get("mix") or "?" for r in ok).items()))
    peaks = [r["output_true_peak_dbtp"] for r in ok if r.get("output_true_peak_dbtp") is not None]
    lines.append(f"mix: {mixes}; output loudness {_mean(ok, 'output_lufs'):.1f} LUFS mean, true peak "
                 f"{max(peaks, default=float('nan')):.1f} dBTP max")
    lines.append("mean scores (ok videos): " + ", ".join(f"{k} {_mean(ok, k):.3f}" for k in MEAN_SCORES)
                 + f", tempo {_mean(ok, 'tempo_bpm'):.1f} bpm")
    return "\n".join(lines)
