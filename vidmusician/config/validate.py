"""The one validation step of a loaded config: what the schema's types cannot say, checked in one place
when the config is loaded, before any job starts. Every problem is reported at once, by its key.
(Types, unknown keys and enum values are omegaconf's structured merge; a job's own required inputs,
such as `train.features`, are checked by that job.)"""
from __future__ import annotations

from vidmusician.config.schema import Config

# train.stage -> the stages it runs, in order.
TRAIN_STAGES = {"1": (1,), "2": (2,), "both": (1, 2)}
# model.rhythm.reduction -> statistics per frame (models/rhythm.py).
RHYTHM_REDUCTIONS = {"mean": 1, "mean_max": 2}
SEPARATIONS = ("none", "demucs")
# video.fault_injection values (video/isolation.py).
INJECTED_FAULTS = ("hang", "crash")


def config_problems(cfg: Config) -> list[str]:
    found = []

    def need(ok: bool, problem: str) -> None:
        if not ok:
            found.append(problem)

    need(cfg.train.stage in TRAIN_STAGES, f"train.stage={cfg.train.stage!r}: expected one of {list(TRAIN_STAGES)}")
    need(cfg.model.rhythm.reduction in RHYTHM_REDUCTIONS,
         f"model.rhythm.reduction={cfg.model.rhythm.reduction!r}: expected one of {list(RHYTHM_REDUCTIONS)}")
    need(cfg.model.musicgen.codec.bins > 0, "model.musicgen.codec.bins must be positive")
    gen = cfg.generation
    need(gen.window_s > gen.context_s, f"generation.window_s ({gen.window_s}) must be longer than "
                                       f"generation.context_s ({gen.context_s})")
    need(gen.codec_chunk_s > 0 and gen.codec_margin_s >= 0,
         "generation.codec_chunk_s must be positive and generation.codec_margin_s not negative")
    ext = cfg.extract
    need(ext.window_s > 0 and ext.hop_s > 0, "extract.window_s and extract.hop_s must be positive")
    need(ext.separation in SEPARATIONS, f"extract.separation={ext.separation!r}: expected one of {list(SEPARATIONS)}")
    need(ext.separation != "demucs" or bool(ext.separation_model),
         "extract.separation=demucs needs extract.separation_model (a local Demucs checkpoint)")
    vid = cfg.video
    need(bool(vid.suffixes), "video.suffixes is empty: no file would count as a video")
    need(0 < vid.min_duration_s <= vid.max_duration_s,
         f"video.min_duration_s ({vid.min_duration_s}) must be positive and at most video.max_duration_s "
         f"({vid.max_duration_s})")
    need(vid.decode_timeout_s > 0 and vid.decode_chunk_s > 0, "video.decode_timeout_s and video.decode_chunk_s "
                                                              "must be positive")
    bad = sorted(set(vid.fault_injection.values()) - set(INJECTED_FAULTS))
    need(not bad, f"video.fault_injection: unknown faults {bad}: expected one of {list(INJECTED_FAULTS)}")
    retry = cfg.retry
    need(retry.attempts >= 1, f"retry.attempts={retry.attempts}: at least 1 (the first try)")
    need(retry.backoff_s >= 0 and retry.max_backoff_s >= 0 and retry.stop_after_not_done >= 0,
         "retry.backoff_s, retry.max_backoff_s and retry.stop_after_not_done must not be negative")
    return found
