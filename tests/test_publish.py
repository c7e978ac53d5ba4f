"""Publishing the music (vidmusician/publish/): loudness and true peak checked with meters independent
of the code (pyloudnorm for BS.1770 loudness, scipy's polyphase 4x oversampling for the true peak;
the code measures with FFmpeg's ebur128), fades, the ducking curve and the mix policies; and best of N
(soundtrack.candidates): the kept candidate is the best clean one by the configured score in every
row, candidate 0 is the music a single candidate makes, and the review page shows the choice."""
from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import scipy.signal

from model_fixtures import debug_config
from vidmusician.publish.fades import apply_fades, fade_out_start
from vidmusician.publish.loudness import measure, normalize, targets
from vidmusician.publish.mix import DUCK, KEEP, REPLACE, duck_gain, mix_for
from vidmusician.soundtrack.candidates import best

SR = 32000


def lufs(x: np.ndarray, sr: int = SR) -> float:
    return pyloudnorm.Meter(sr).integrated_loudness(np.asarray(x, np.float64))


def true_peak_dbtp(x: np.ndarray) -> float:
    return float(20 * np.log10(np.abs(scipy.signal.resample_poly(np.asarray(x, np.float64), 4, 1)).max()))


def spiky(seconds: float, hit: float, bed: float, seed: int = 0) -> np.ndarray:
    """A tone bed with noise hits every half second: a high crest factor, like drums over pads."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = bed * np.sin(2 * np.pi * 220 * t)
    for k in range(int(seconds * 2)):
        start = k * SR // 2
        x[start:start + 800] += hit * np.exp(-np.arange(800) / 100) * rng.choice([-1, 1], 800)
    return x.astype(np.float32)


@pytest.mark.parametrize("platform", ["streaming", "ebu_r128", "atsc_a85"])
@pytest.mark.parametrize("signal", ["clipped_hits", "soft_hits", "quiet_tone"])
def test_normalised_music_meets_the_target_and_the_ceiling_by_independent_meters(platform, signal):
    x = {"clipped_hits": spiky(8, 1.5, 0.05), "soft_hits": spiky(8, 0.3, 0.05),
         "quiet_tone": spiky(8, 0.0, 0.01)}[signal]
    pub = debug_config(f"soundtrack.publish.platform={platform}").soundtrack.publish
    target, ceiling = targets(pub)
    y, level = normalize(x, SR, target, ceiling, pub.tolerance_lu, pub.limiter_attack_ms, pub.limiter_release_ms)
    assert abs(lufs(y) - target) <= 1.0, (lufs(y), target)
    assert true_peak_dbtp(y) <= ceiling, true_peak_dbtp(y)
    assert abs(level.integrated_lufs - lufs(y)) < 0.3 and level.true_peak_dbtp <= ceiling
    if signal == "clipped_hits":  # the gain alone would cross the ceiling: the limiter held it
        assert true_peak_dbtp(x) + (target - lufs(x)) > ceiling + 3


def test_a_set_target_overrides_the_platform_and_silence_is_left_alone():
    pub = debug_config("soundtrack.publish.platform=atsc_a85", "soundtrack.publish.target_lufs=-18").soundtrack.publish
    assert targets(pub) == (-18.0, -2.0)
    silence = np.zeros(SR * 2, np.float32)
    y, level = normalize(silence, SR, -14, -1, 0.5, 5, 50)
    assert level.silent and not np.any(y)
    assert measure(spiky(4, 0.3, 0.05), SR).range_lu >= 0


def test_fades_in_and_out_as_configured():
    x = np.random.default_rng(0).standard_normal(SR * 4).astype(np.float32) * 0.1
    y = apply_fades(x, SR, 0.1, 3.0)
    env = np.abs(y) / np.maximum(np.abs(x), 1e-9)
    t = np.arange(len(x)) / SR
    # FFmpeg's quarter-sine fade: sin(pi/2 * progress)
    for lo, hi, curve in ((0.0, 0.1, lambda u: np.sin(np.pi / 2 * u / 0.1)),
                          (3.0, 4.0, lambda u: np.sin(np.pi / 2 * (1 - (u - 3.0)))), (0.2, 2.9, lambda u: 1.0)):
        part = (t >= lo) & (t < hi) & (np.abs(x) > 1e-3)
        np.testing.assert_allclose(env[part], np.broadcast_to(curve(t[part]), env[part].shape), atol=0.01)
    last = np.abs(y[-int(0.1 * SR):])
    assert np.sqrt(np.mean(last ** 2)) < 0.2 * np.sqrt(np.mean(x[-int(0.1 * SR):] ** 2))
    assert len(y) == len(x)


def test_the_fade_out_starts_on_the_nearest_beat_and_ends_with_the_video():
    # planned start 8.0 s: the beat at 7.8 is nearest within 0.75 s; 6.9 and 8.9 are too far
    assert fade_out_start(10.0, np.array([6.9, 7.8, 8.9]), 2.0, 0.75, 0.25) == 7.8
    assert fade_out_start(10.0, np.array([6.9, 9.9]), 2.0, 0.75, 0.25) == 8.0   # none near: planned
    assert fade_out_start(4.0, np.array([]), 2.0, 0.75, 0.25) == 3.0           # a short video: 1/4 of it
    assert fade_out_start(4.0, np.array([2.5, 2.9]), 2.0, 0.75, 0.25) == 3.0   # never longer than 1/4


def test_duck_gain_goes_down_by_the_depth_over_speech_with_attack_and_release():
    pub = debug_config("soundtrack.publish.duck_depth_db=12", "soundtrack.publish.duck_attack_s=0.2",
                       "soundtrack.publish.duck_release_s=0.5").soundtrack.publish
    sr = 1000
    gain_db = 20 * np.log10(duck_gain(10 * sr, sr, np.array([[2.0, 3.0], [3.4, 4.0], [7.0, 7.5]]), pub))
    at = lambda s: gain_db[int(round(s * sr))]  # noqa: E731
    assert at(0.5) == pytest.approx(0) and at(2.5) == pytest.approx(-12, abs=1e-4)
    assert at(1.9) == pytest.approx(-6, abs=0.1)      # half-way down the 0.2 s attack
    assert at(3.2) == pytest.approx(-12, abs=1e-4)    # a 0.4 s pause (< attack + release) stays down
    assert at(4.25) == pytest.approx(-6, abs=0.1)     # half-way up the 0.5 s release
    assert at(5.0) == pytest.approx(0) and at(7.25) == pytest.approx(-12, abs=1e-4)


def test_mix_policies():
    assert [mix_for("auto", k) for k in ("none", "silent", "speech", "sound")] == [REPLACE, REPLACE, DUCK, REPLACE]
    assert [mix_for("keep", k) for k in ("none", "silent", "speech", "sound")] == [REPLACE, REPLACE, DUCK, KEEP]
    assert [mix_for("duck", k) for k in ("none", "speech", "sound")] == [REPLACE, DUCK, DUCK]
    assert mix_for("replace", "speech") == REPLACE


# ---- Through the soundtracking job: a video with speech, one with music of its own, one silent ----

SPEECH_TEXT = "Good evening. This clip has a voice on it, and the music must make room for every word."
LEAD_S = 1.5  # silence before and after the speech: where the music plays at full level


def speech_video(path, seconds: float = 8.0, fps: int = 25) -> np.ndarray:
    """An mp4 of moving synthetic frames with espeak-ng's voice in its middle; returns that voice
    (mono, SR) as it lies in the video's time."""
    import subprocess

    import librosa
    import soundfile

    from vidmusician.synth.media import encode_mp4
    wav = path.with_suffix(".speech.wav")
    subprocess.run(["espeak-ng", "-w", str(wav), SPEECH_TEXT], check=True, timeout=60)
    voice, rate = soundfile.read(str(wav), dtype="float32")
    voice = librosa.resample(voice, orig_sr=rate, target_sr=SR) * 0.5
    track = np.zeros(int(seconds * SR), np.float32)
    track[int(LEAD_S * SR):int(LEAD_S * SR) + len(voice)] = voice[: len(track) - int(LEAD_S * SR)]
    n = int(seconds * fps)
    frames = np.random.default_rng(1).integers(0, 255, (n // fps + 1, 8, 8, 3), dtype=np.uint8)
    frames = frames.repeat(8, axis=1).repeat(8, axis=2)[np.arange(n) // fps]
    path.write_bytes(encode_mp4(frames, fps, 23, audio=track, sample_rate=SR))
    return track


def least_squares(out: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(np.stack(parts, axis=1).astype(np.float64), out.astype(np.float64), rcond=None)
    return coef


@pytest.fixture(scope="module")
def published(ray_local, tmp_path_factory):
    from vidmusician.soundtrack.pipeline import run_soundtrack
    from vidmusician.synth.world import write_world
    root = tmp_path_factory.mktemp("publish")
    inputs = root / "inputs"
    inputs.mkdir()
    voice = speech_video(inputs / "speech.mp4")
    for name, audio in (("music", "true"), ("silent", "false")):
        cfg = debug_config("world.num_videos=1", "world.duration_s=6", f"world.with_audio={audio}")
        (row,) = write_world(cfg, str(root / name)).to_pylist()
        (inputs / f"{name}.mp4").write_bytes(open(row["uri"], "rb").read())
    runs = {}
    for policy in ("auto", "keep", "replace"):
        runs[policy] = run_soundtrack(debug_config(
            f"input={inputs}", f"output={root / policy}", f"soundtrack.publish.mix_policy={policy}",
            "soundtrack.publish.fade_in_s=0.1"))
    return inputs, voice, runs


def rows_of(result) -> dict[str, dict]:
    """Rows by file stem (a prefix input's id is the stem plus a hash of the URI)."""
    return {r["video_id"].rsplit("-", 1)[0]: r for r in result.table.to_pylist()}


def test_auto_ducks_the_music_under_speech_and_keeps_the_speech(published):
    import librosa
    import soundfile

    from vidmusician.synth.media import read_audio
    inputs, voice, runs = published
    rows = rows_of(runs["auto"])
    speech = rows["speech"]
    assert (speech["source_audio"], speech["mix"]) == ("speech", "duck") and speech["speech_s"] > 2
    assert rows["silent"]["source_audio"] == "none" and rows["silent"]["mix"] == "replace"
    assert rows["music"]["source_audio"] == "sound" and rows["music"]["mix"] == "replace"
    music, sr = soundfile.read(speech["music_uri"], dtype="float32")
    mixed, _ = soundfile.read(speech["mix_uri"], dtype="float32")
    assert len(music) == len(mixed) and rows["music"]["mix_uri"] is None
    # The voice as the video carries it (after AAC), read by the tests' own reader.
    heard, rate = read_audio((inputs / "speech.mp4").read_bytes())
    voice = np.pad(librosa.resample(heard, orig_sr=rate, target_sr=sr), (0, len(mixed)))[: len(mixed)]
    # Where the voice is (independently: its own envelope) and where only music plays. The mix was
    # brought to the target through the limiter, a gain that moves within tens of ms: fit the music's
    # and the voice's coefficients per 50 ms window.
    t = np.arange(len(mixed)) / sr
    loud = np.convolve(np.abs(voice), np.ones(sr // 50) / (sr // 50), mode="same") > 0.01
    window = sr // 20
    a_talk, snr, over = [], [], []
    for start in range(int((LEAD_S + 0.3) * sr), len(mixed) - window, window):
        part = slice(start, start + window)
        if loud[part].all():
            (a, b), *_ = np.linalg.lstsq(np.stack([music[part], voice[part]], 1), mixed[part], rcond=None)
            residual = mixed[part] - a * music[part] - b * voice[part]
            a_talk.append(a)
            snr.append(10 * np.log10(np.sum((b * voice[part]) ** 2) / np.sum(residual ** 2)))
            over.append(10 * np.log10(np.sum((b * voice[part]) ** 2) / np.sum((a * music[part]) ** 2)))
    music_only = (t > 0.3) & (t < LEAD_S - 0.3)
    (a_free,) = least_squares(mixed[music_only], [music[music_only]])
    depth_db = 20 * np.log10(a_free / np.median(a_talk))
    assert len(a_talk) >= 20 and 10 <= depth_db <= 14, (len(a_talk), depth_db)  # configured 12 dB
    # The voice is all there (what is not music is the voice, under the limiter's moving gain: 15 dB
    # measured) and on top: the words stand well above the ducked music.
    assert np.median(snr) > 10 and np.median(over) > 6, (np.median(snr), np.median(over))
    print(f"measured duck depth {depth_db:.1f} dB; the voice explains the rest at {np.median(snr):.0f} dB "
          f"and stands {np.median(over):.0f} dB over the music")
    # Loudness of the published files by independent meters: the stems exactly, the mp4's AAC within 1 LU.
    for row in rows.values():
        target, ceiling = -14.0, -1.0
        stem = soundfile.read(row["mix_uri"] or row["music_uri"], dtype="float32")[0]
        assert abs(lufs(stem, sr) - target) <= 1.0 and true_peak_dbtp(stem) <= ceiling, row["video_id"]
        assert abs(row["output_lufs"] - lufs(stem, sr)) < 0.3 and row["output_true_peak_dbtp"] <= ceiling
        aac, rate = read_audio(open(row["video_uri"], "rb").read())
        assert abs(lufs(aac, rate) - target) <= 1.0, row["video_id"]
        head, tail = stem[: int(0.1 * sr)], stem[-int(0.01 * sr):]
        assert np.sqrt(np.mean(head[: sr // 100] ** 2)) < 0.3 * np.sqrt(np.mean(head[-sr // 100:] ** 2))
        assert np.abs(tail).max() < 0.05 * np.abs(stem).max()  # faded to the last frame


def test_keep_leaves_videos_with_their_own_sound_and_replace_drops_it(published):
    import librosa

    from vidmusician.synth.media import read_audio
    inputs, voice, runs = published
    kept = rows_of(runs["keep"])
    music = kept["music"]  # it already has music: left as it is
    assert music["status"] == "ok" and music["mix"] == "keep" and music["video_output"] == "keep"
    assert music["music_uri"] is None and music["video_uri"] is None
    assert kept["silent"]["mix"] == "replace" and kept["silent"]["video_uri"]
    assert kept["speech"]["mix"] == "duck" and kept["speech"]["mix_uri"]  # speech is not music: ducked
    assert {r["mix_policy"] for r in kept.values()} == {"keep"}  # the policy beside the mix it gave
    assert (runs["keep"].work["generated"], runs["keep"].work["kept"]) == (2, 1)  # no music made for one
    page = open(runs["keep"].layout.review).read()  # no player where nothing was made
    assert page.count("<video") == 2 and page.count("kept its own sound") == 1
    replaced = rows_of(runs["replace"])["speech"]
    assert replaced["mix"] == "replace" and replaced["mix_uri"] is None and replaced["source_audio"] == ""
    heard, rate = read_audio(open(replaced["video_uri"], "rb").read())
    voice = librosa.resample(voice, orig_sr=SR, target_sr=rate)
    n = min(len(heard), len(voice))
    assert abs(np.corrcoef(heard[:n], voice[:n])[0, 1]) < 0.1  # the voice is gone
    ducked, rate = read_audio(open(rows_of(runs["auto"])["speech"]["video_uri"], "rb").read())
    assert np.corrcoef(ducked[:n], voice[:n])[0, 1] > 0.3  # (and under auto it is there)


# ---- Best of N ----


def test_best_is_the_highest_clean_score():
    assert best([0.2, 0.9, 0.5], ["", "clipped 1.00%", ""]) == 2       # the clipped one is out
    assert best([0.2, 0.9, 0.5], ["x", "y", "z"]) == 1                 # none clean: the highest
    assert best([math.nan, 0.1, 0.1], ["", "", ""]) == 1               # NaN last; ties: the earlier
    assert best([math.nan], [""]) == 0


@pytest.fixture(scope="module")
def candidate_runs(ray_local, tmp_path_factory):
    from vidmusician.soundtrack.pipeline import run_soundtrack
    from vidmusician.synth.world import write_world
    root = tmp_path_factory.mktemp("best-of-n")
    write_world(debug_config("world.num_videos=4", "world.with_audio=false"), str(root / "world"))
    # One sequence per batch in both runs: candidate 0 then meets exactly the arithmetic the single
    # candidate met (batched matmuls can differ in the last bits with the batch's shape, and one
    # flipped sampled token makes other music).
    common = [f"input={root / 'world' / 'videos'}", "generation.batch_size=1"]
    return {n: run_soundtrack(debug_config(*common, f"output={root / f'n{n}'}", f"soundtrack.candidates={n}"))
            for n in (1, 4)}


def test_the_kept_candidate_is_the_best_and_candidate_0_is_the_single_one(candidate_runs):
    one = {r["video_id"]: r for r in candidate_runs[1].table.to_pylist()}
    four = {r["video_id"]: r for r in candidate_runs[4].table.to_pylist()}
    assert sorted(one) == sorted(four) and len(four) == 4
    for vid, row in four.items():
        assert row["status"] == "ok" and row["candidates"] == 4 and len(row["candidate_scores"]) == 4
        assert row["chosen_candidate"] == best(row["candidate_scores"], row["candidate_issues"])
        assert row["onset_f1_70ms"] == row["candidate_scores"][row["chosen_candidate"]]
        # four different pieces of music (the random debug model clips: every candidate is flagged)
        assert len(set(zip(row["candidate_scores"], row["candidate_issues"]))) == 4, row["candidate_issues"]
        assert row["candidate_scores"][0] == pytest.approx(one[vid]["onset_f1_70ms"])  # same seed as N = 1
        assert one[vid]["candidates"] == 1 and one[vid]["chosen_candidate"] == 0
    mean1 = np.mean([r["onset_f1_70ms"] for r in one.values()])
    mean4 = np.mean([r["onset_f1_70ms"] for r in four.values()])
    assert mean4 >= mean1 and any(r["chosen_candidate"] for r in four.values()), (mean1, mean4)
    print(f"debug model, 4 silent world videos: mean onset F1 N=1 {mean1:.3f}, best of 4 {mean4:.3f}")
    page = open(candidate_runs[4].layout.review).read()
    assert page.count("best of 4:") == 4 and page.count("class='chosen'") == 4



def save_music_detector(folder, music_logit: float) -> str:
    """A tiny AudioSet-style AST in transformers' format (as MIT's AST ships: config.json,
    model.safetensors, preprocessor_config.json) whose "Music" probability is sigmoid(music_logit)
    whatever it hears: what is tested is the loading, the labels and the decision, not the ear."""
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification
    labels = ["Speech", "Music", "Vehicle"]
    model = ASTForAudioClassification(ASTConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, max_length=1024,
        id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)}))
    with torch.no_grad():
        model.classifier.dense.weight.zero_()
        model.classifier.dense.bias.copy_(torch.tensor([0.0, music_logit, 0.0]))
    model.save_pretrained(folder)
    ASTFeatureExtractor(max_length=1024).save_pretrained(folder)
    return str(folder)


def test_keep_asks_the_music_detector_whether_a_source_is_music(published, tmp_path):
    import math

    from vidmusician.soundtrack.prepare import source_fields
    inputs, _, _ = published
    hears, deaf = save_music_detector(tmp_path / "hears", 5.0), save_music_detector(tmp_path / "deaf", -5.0)

    def fields(name: str, detector: str, policy: str = "keep", *overrides: str) -> dict:
        cfg = debug_config(f"soundtrack.publish.music_detector={detector}", *overrides)
        return source_fields(str(inputs / f"{name}.mp4"), True, cfg, policy)

    music = fields("music", hears)
    assert (music["source_audio"], music["mix"], music["source_music"]) == ("sound", "keep", 1.0)
    assert fields("speech", hears)["mix"] == "keep"  # speech over music: left as it is
    heard_none = fields("music", deaf)  # other sound: kept, with the new music under it
    assert (heard_none["mix"], heard_none["source_music"]) == ("duck", 0.0)
    assert fields("speech", deaf)["mix"] == "duck"
    assert fields("music", hears, "keep", "soundtrack.publish.music_threshold=0.999")["mix"] == "duck"
    assert fields("music", hears, "keep", "soundtrack.publish.music_min_fraction=1.0")["mix"] == "keep"
    assert math.isnan(fields("music", hears, "auto")["source_music"])  # only keep asks it
    with pytest.raises(ValueError, match="none is a label"):
        fields("music", hears, "keep", "soundtrack.publish.music_labels=[Jazz]")


def test_music_detector_windows():
    from vidmusician.publish.music import windows
    rate = 100
    assert [len(w) for w in windows(np.zeros(2500), rate, 10.0)] == [1000, 1000, 500]
    assert [len(w) for w in windows(np.zeros(2050), rate, 10.0)] == [1000, 1000]  # a 0.5 s tail: too short
    assert [len(w) for w in windows(np.zeros(50), rate, 10.0)] == [50]  # the only window stays

# ---- Per-video controls from manifest columns ----

@pytest.fixture(scope="module")
def controlled(ray_local, tmp_path_factory):
    import json

    from vidmusician.soundtrack.pipeline import run_soundtrack
    from vidmusician.synth.world import write_world
    root = tmp_path_factory.mktemp("controls")
    (row,) = write_world(debug_config("world.num_videos=1", "world.with_audio=false"), str(root / "world")).to_pylist()
    uri = row["uri"]
    manifest = [{"video_id": "plain", "uri": uri},
                {"video_id": "seeded", "uri": uri, "seed": 5},
                {"video_id": "seeded-again", "uri": uri, "seed": 5},
                {"video_id": "tuned", "uri": uri, "candidates": 2, "cfg_coef": 1.5, "target_lufs": -20},
                {"video_id": "prompted", "uri": uri, "prompt": "calm  piano"},
                {"video_id": "bad-prompt", "uri": uri, "prompt": 7},
                {"video_id": "blank-prompt", "uri": uri, "prompt": "  "},
                {"video_id": "bad-seed", "uri": uri, "seed": "five"},
                {"video_id": "bad-policy", "uri": uri, "mix_policy": "louder"},
                {"video_id": "bad-target", "uri": uri, "target_lufs": 3}]
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(m) for m in manifest))
    cfg = debug_config(f"input={root / 'manifest.jsonl'}", f"output={root / 'out'}")
    return run_soundtrack(cfg), run_soundtrack(cfg)


def test_manifest_controls_change_the_music_and_are_recorded(controlled):
    import json

    import soundfile
    first, again = controlled
    rows = {r["video_id"]: r for r in first.table.to_pylist()}
    for vid, needle in (("bad-seed", "control seed='five'"), ("bad-policy", "control mix_policy='louder'"),
                        ("bad-target", "control target_lufs=3"), ("bad-prompt", "control prompt=7: a text"),
                        ("blank-prompt", "control prompt='  ': not blank")):
        assert rows[vid]["status"] == "error" and rows[vid]["reason"].startswith(needle), rows[vid]
    ok = {v: rows[v] for v in ("plain", "seeded", "seeded-again", "tuned", "prompted")}
    assert all(r["status"] == "ok" for r in ok.values())
    assert json.loads(ok["seeded"]["controls"]) == {"seed": 5} and json.loads(ok["plain"]["controls"]) == {}
    assert json.loads(ok["tuned"]["controls"]) == {"candidates": 2, "cfg_coef": 1.5, "target_lufs": -20.0}
    # one content, three different keys (the same controls share one: the repeat is a duplicate)
    assert ok["plain"]["output_key"] == ok["plain"]["content_hash"]
    assert json.loads(ok["prompted"]["controls"]) == {"prompt": "calm piano"}  # one spelling
    assert len({ok[v]["output_key"] for v in ("plain", "seeded", "tuned", "prompted")}) == 4
    assert ok["seeded-again"]["output_key"] == ok["seeded"]["output_key"]
    owners = sorted([ok["seeded"]["duplicate_of"], ok["seeded-again"]["duplicate_of"]])
    assert owners[0] == "" and owners[1] in ("seeded", "seeded-again")  # made once, for one of them
    music = {v: soundfile.read(ok[v]["music_uri"], dtype="float32") for v in ("plain", "seeded", "tuned", "prompted")}
    assert not np.array_equal(music["plain"][0], music["seeded"][0])  # another seed, other music
    assert not np.array_equal(music["plain"][0], music["prompted"][0])  # same seed, a prompt: other music
    assert ok["tuned"]["candidates"] == 2 and ok["plain"]["candidates"] == 1
    tuned, sr = music["tuned"]
    assert abs(lufs(tuned, sr) - (-20)) <= 1.0 and abs(lufs(music["plain"][0], sr) - (-14)) <= 1.0
    page = open(first.layout.review).read()  # the review page shows each row's controls
    assert "controls: prompt=&#x27;calm piano&#x27;" in page and "controls: seed=5" in page
    # a rerun of the same manifest makes nothing new
    assert again.work["generated"] == 0 and again.work["errors"] == 0
