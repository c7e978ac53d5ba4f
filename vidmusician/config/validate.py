"""The one validation step of a loaded config: what the schema's types cannot say, checked in one place
when the config is loaded, before any job starts. Every problem is reported at once, by its key.
(Types, unknown keys and enum values are omegaconf's structured merge; a job's own required inputs,
such as `train.features`, are checked by that job.)"""
from __future__ import annotations

from vidmusician.config.schema import Config

# train.stage -> the stages it runs, in order.
TRAIN_STAGES = {"1": (1,), "2": (2,), "both": (1, 2)}
# train.video_features values (train/run.py).
VIDEO_FEATURES = ("object_store", "storage")
# model.rhythm.reduction -> statistics per frame (models/rhythm.py).
RHYTHM_REDUCTIONS = {"mean": 1, "mean_max": 2}
SEPARATIONS = ("none", "demucs")
# video.fault_injection values (video/isolation.py).
INJECTED_FAULTS = ("hang", "crash")
# soundtrack.publish.platform -> (target integrated LUFS, true-peak ceiling dBTP). YouTube, Spotify,
# TikTok and most streaming services play at about -14; Apple Music at -16; broadcast follows EBU R128
# (-23) or ATSC A/85 (-24, -2 dBTP).
LOUDNESS_PLATFORMS = {"streaming": (-14.0, -1.0), "apple": (-16.0, -1.0), "ebu_r128": (-23.0, -1.0),
                      "atsc_a85": (-24.0, -2.0)}
# Per-video rhythm scores where higher is better: the run summary's means, and what best-of-N can
# select by (soundtrack.select_by).
HIGHER_IS_BETTER = ("onset_f1_70ms", "onset_f1_flow_70ms", "beats_hit", "beats_coverage", "beat_alignment_100ms",
                    "beat_alignment_50ms")
# soundtrack.publish.mix_policy values (publish/mix.py).
MIX_POLICIES = ("auto", "replace", "duck", "keep")
# Longest text prompt (characters): a style line, not a document (T5 reads every token of it).
MAX_PROMPT_CHARS = 500


def prompt_problem(prompt) -> str | None:
    """What is wrong with a text prompt, or None: text, not blank, printable, at most MAX_PROMPT_CHARS."""
    if not isinstance(prompt, str):
        return "a text"
    if not prompt.strip():
        return "not blank"
    if len(prompt) > MAX_PROMPT_CHARS:
        return f"at most {MAX_PROMPT_CHARS} characters"
    if not prompt.isprintable():
        return "printable characters only"
    return None


def config_problems(cfg: Config) -> list[str]:
    found = []

    def need(ok: bool, problem: str) -> None:
        if not ok:
            found.append(problem)

    need(cfg.train.stage in TRAIN_STAGES, f"train.stage={cfg.train.stage!r}: expected one of {list(TRAIN_STAGES)}")
    for stage, schedule in (("stage1", cfg.train.stage1), ("stage2", cfg.train.stage2)):
        loss, key = schedule.loss, f"train.{stage}.loss"
        need(loss.guidance >= 1, f"{key}.guidance={loss.guidance}: at least 1 (1 = the conditional LM alone)")
        need(loss.start_frames >= 0 and loss.start_weight > 0,
             f"{key}: start_frames={loss.start_frames} must be >= 0 and start_weight={loss.start_weight} > 0")
        need(0 <= loss.input_noise < 1, f"{key}.input_noise={loss.input_noise}: a fraction in [0, 1)")
    need(cfg.train.grad_accum_steps >= 1, f"train.grad_accum_steps={cfg.train.grad_accum_steps}: at least 1")
    need(cfg.train.video_features in VIDEO_FEATURES,
         f"train.video_features={cfg.train.video_features!r}: expected one of {list(VIDEO_FEATURES)}")
    need(cfg.model.rhythm.reduction in RHYTHM_REDUCTIONS,
         f"model.rhythm.reduction={cfg.model.rhythm.reduction!r}: expected one of {list(RHYTHM_REDUCTIONS)}")
    need(cfg.model.musicgen.codec.bins > 0, "model.musicgen.codec.bins must be positive")
    gen = cfg.generation
    need(gen.window_s > gen.context_s, f"generation.window_s ({gen.window_s}) must be longer than "
                                       f"generation.context_s ({gen.context_s})")
    need(gen.codec_chunk_s > 0 and gen.codec_margin_s >= 0,
         "generation.codec_chunk_s must be positive and generation.codec_margin_s not negative")
    problem = None if gen.prompt is None else prompt_problem(gen.prompt)
    need(problem is None, f"generation.prompt={gen.prompt!r}: {problem}")
    ext = cfg.extract
    for key, low, high in (("extract.feature_actors", ext.feature_actors_min, ext.feature_actors_max),
                           ("soundtrack.actors", cfg.soundtrack.actors_min, cfg.soundtrack.actors_max)):
        need(low >= 1 and (high is None or high >= low),
             f"{key}_min={low}, {key}_max={high}: min at least 1, max at least min (or null: no limit)")
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
    mmap = cfg.ray.malloc_mmap_threshold
    need(mmap is None or mmap > 0, f"ray.malloc_mmap_threshold={mmap}: positive bytes, or null for glibc's default")
    st = cfg.soundtrack
    need(st.candidates >= 1, f"soundtrack.candidates={st.candidates}: at least 1")
    need(st.select_by in HIGHER_IS_BETTER,
         f"soundtrack.select_by={st.select_by!r}: expected one of {list(HIGHER_IS_BETTER)}")
    need(0 <= st.max_clipped_fraction < 1, f"soundtrack.max_clipped_fraction={st.max_clipped_fraction}: in [0, 1)")
    pub = st.publish
    need(pub.platform in LOUDNESS_PLATFORMS,
         f"soundtrack.publish.platform={pub.platform!r}: expected one of {list(LOUDNESS_PLATFORMS)}")
    need(pub.mix_policy in MIX_POLICIES,
         f"soundtrack.publish.mix_policy={pub.mix_policy!r}: expected one of {list(MIX_POLICIES)}")
    need(pub.true_peak_dbtp is None or pub.true_peak_dbtp <= 0,
         f"soundtrack.publish.true_peak_dbtp={pub.true_peak_dbtp}: a ceiling at or below 0 dBTP")
    need(pub.target_lufs is None or -70 < pub.target_lufs < 0,
         f"soundtrack.publish.target_lufs={pub.target_lufs}: between -70 and 0 LUFS")
    need(min(pub.tolerance_lu, pub.limiter_attack_ms, pub.limiter_release_ms, pub.duck_depth_db) > 0,
         "soundtrack.publish.tolerance_lu, limiter_attack_ms, limiter_release_ms and duck_depth_db must be positive")
    need(min(pub.fade_in_s, pub.fade_out_s, pub.fade_beat_window_s, pub.duck_attack_s, pub.duck_release_s,
             pub.speech_min_s) >= 0 and 0 <= pub.fade_max_fraction <= 0.5 and 0 < pub.vad_threshold < 1,
         "soundtrack.publish: fades, duck times and speech_min_s not negative, fade_max_fraction in "
         "[0, 0.5], vad_threshold in (0, 1)")
    need(0 < pub.music_threshold < 1 and 0 < pub.music_min_fraction <= 1 and pub.music_window_s >= 1
         and bool(pub.music_labels), "soundtrack.publish: music_threshold in (0, 1), music_min_fraction in "
         "(0, 1], music_window_s >= 1, music_labels not empty")
    retry = cfg.retry
    need(retry.attempts >= 1, f"retry.attempts={retry.attempts}: at least 1 (the first try)")
    need(retry.backoff_s >= 0 and retry.max_backoff_s >= 0 and retry.stop_after_not_done >= 0,
         "retry.backoff_s, retry.max_backoff_s and retry.stop_after_not_done must not be negative")
    return found
