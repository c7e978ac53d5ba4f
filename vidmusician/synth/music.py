"""Music of the synthetic world: a tonal line whose instrument names the scene class, plus percussive hits.

Everything is deterministic from a numpy Generator and vectorised (a 4 s clip at 16 kHz takes ~10 ms).
Arrays are float32 mono at `WorldConfig.sample_rate`.

Timing convention (shared with the video): hits lie on a beat grid at the clip's tempo, and every beat
is rounded to the video frame grid (a multiple of 1/fps), and a hit at time t starts at sample
round(t * sample_rate): exactly t at 16 kHz / 25 fps (640 samples a frame), within half a sample otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidmusician.config.schema import WorldConfig

# --- Instruments: one per scene class. MIDI ranges keep the classes apart in pitch (bass < arpeggio < bell).
@dataclass(frozen=True)
class Instrument:
    name: str
    midi_lo: int
    midi_hi: int  # inclusive


INSTRUMENTS = {
    "bass": Instrument("bass", 36, 48),  # sine bass
    "arpeggio": Instrument("arpeggio", 60, 76),  # band-limited square, cycling through a chord
    "bell": Instrument("bell", 76, 91),  # FM bell: inharmonic partials that mellow as the note decays
}

ATTACK_S = 0.03  # soft note attacks, so that note changes are not mistaken for hits
XFADE_S = 0.1  # each note fades out over this long under the next one (legato, no silent gap)
FADE_IN_S = 0.2  # the clip's tonal line fades in: an attack at sample 0 makes AAC encoders splash noise
BASS_DECAY_S = 0.8  # slow amplitude decay of a bass note
SQUARE_DECAY_S = 0.3
BELL_DECAY_S = 0.25
ARPEGGIO_CHORDS = ([0, 4, 7, 12], [0, 3, 7, 12], [0, 5, 9, 12])  # major, minor, 6/4 shapes, in semitones
BELL_RATIO = 3.5  # modulator/carrier frequency ratio: inharmonic, bell-like; partials lie above the carrier
BELL_INDEX = 1.5  # FM index at the attack; decays with the note, so the bell mellows

# --- Hits: kick (sine with a falling pitch) + noise burst; both start at full level (a sharp onset).
KICK_F_START_HZ = 160.0
KICK_F_END_HZ = 50.0
KICK_SWEEP_S = 0.03  # time constant of the pitch fall
KICK_DECAY_S = 0.15
NOISE_DECAY_S = 0.02
NOISE_LEVEL = 0.25  # noise burst relative to the kick (more noise: more AAC pre-echo, weaker onsets)
HIT_LENGTH_S = 0.3  # template length; shorter than any gap between hits (min_gap_s)

# --- Hit placement.
LEAD_IN_S = 0.2  # no hit before this: frame 0 has no predecessor to differ from, audio needs a run-up
TAIL_S = 0.3  # no hit in the last TAIL_S: the hit must decay (and be detectable) inside the clip


@dataclass
class MusicClip:
    audio: np.ndarray  # float32 mono, duration_s * sample_rate samples
    hit_times: np.ndarray  # seconds, float64, multiples of 1/fps
    class_name: str
    tempo_bpm: float


def num_samples(cfg: WorldConfig) -> int:
    return int(round(cfg.duration_s * cfg.sample_rate))


def sample_hit_times(rng: np.random.Generator, tempo_bpm: float, cfg: WorldConfig) -> np.ndarray:
    """Beat grid at `tempo_bpm` with a random phase, snapped to frames, `drop_prob` of beats dropped,
    no two hits closer than `min_gap_s`. Always at least one hit."""
    period = 60.0 / tempo_bpm
    phase = LEAD_IN_S + rng.uniform(0.0, period)
    beats = np.arange(phase, cfg.duration_s - TAIL_S, period)
    # Snap to the frame grid: the visual event is drawn at frame round(t * fps).
    frames = np.unique(np.round(beats * cfg.fps).astype(np.int64))
    keep = rng.random(len(frames)) >= cfg.drop_prob
    if not keep.any() and len(frames):
        keep[rng.integers(len(frames))] = True
    kept: list[int] = []
    min_gap_frames = cfg.min_gap_s * cfg.fps - 1e-6  # tolerance: 0.4 s at 25 fps is exactly 10 frames
    for f in frames[keep]:
        if not kept or f - kept[-1] >= min_gap_frames:
            kept.append(int(f))
    return np.asarray(kept, dtype=np.float64) / cfg.fps


def _note_starts(rng: np.random.Generator, n: int, cfg: WorldConfig) -> np.ndarray:
    """Note start samples (the first at 0), note_min_s..note_max_s apart, all inside the clip."""
    # Enough notes to fill the clip even if all are the shortest.
    lengths = rng.uniform(cfg.note_min_s, cfg.note_max_s, int(np.ceil(cfg.duration_s / cfg.note_min_s)) + 1)
    starts = np.concatenate([[0], np.cumsum(np.round(lengths * cfg.sample_rate).astype(np.int64))])
    return starts[starts < n]


def _pitches(rng: np.random.Generator, inst: Instrument, count: int) -> np.ndarray:
    """MIDI pitches per note: random in range, or a chord cycled up and down for the arpeggio."""
    if inst.name == "arpeggio":
        chord = np.asarray(ARPEGGIO_CHORDS[rng.integers(len(ARPEGGIO_CHORDS))])
        root = rng.integers(inst.midi_lo, inst.midi_hi - chord[-1] + 1)
        cycle = np.concatenate([chord, chord[-2:0:-1]])  # up then down: 0 4 7 12 7 4
        return root + cycle[(np.arange(count) + rng.integers(len(cycle))) % len(cycle)]
    return rng.integers(inst.midi_lo, inst.midi_hi + 1, count)


def _voice(name: str, freq: float, t: np.ndarray, sample_rate: int) -> np.ndarray:
    """One note of the instrument (before its attack/release envelope), t in seconds from its start."""
    phase = 2 * np.pi * freq * t
    if name == "bass":
        return np.sin(phase) * np.exp(-t / BASS_DECAY_S)
    if name == "arpeggio":
        # Band-limited square: odd harmonics k with amplitude 1/k, only those below Nyquist. sin(k*phase)
        # comes from the recurrence sin((k+2)x) = 2cos(2x) sin(kx) - sin((k-2)x): no sin() per harmonic.
        two_cos2 = 2 * np.cos(2 * phase)
        below, cur = -np.sin(phase), np.sin(phase)
        y = np.zeros_like(t)
        for k in range(1, int(sample_rate / 2 / freq) + 1, 2):
            y += cur / k
            below, cur = cur, two_cos2 * cur - below
        return y * np.exp(-t / SQUARE_DECAY_S)
    if name == "bell":
        decay = np.exp(-t / BELL_DECAY_S)
        return np.sin(phase + BELL_INDEX * decay * np.sin(BELL_RATIO * phase)) * decay
    raise ValueError(f"no instrument for class {name!r} (known: {', '.join(INSTRUMENTS)})")


def render_tonal(rng: np.random.Generator, class_name: str, cfg: WorldConfig) -> np.ndarray:
    """The class's instrument playing random notes of note_min_s..note_max_s; peak-normalised to 1.

    Notes are legato: each one rings on for XFADE_S under the next one's attack. A gap of silence
    between notes would make every note change a loud onset in a log spectrogram, i.e. a false hit.
    """
    if class_name not in INSTRUMENTS:
        raise ValueError(f"no instrument for class {class_name!r} (known: {', '.join(INSTRUMENTS)})")
    inst = INSTRUMENTS[class_name]
    sr, n = cfg.sample_rate, num_samples(cfg)
    starts = _note_starts(rng, n, cfg)
    freqs = 440.0 * 2.0 ** ((_pitches(rng, inst, len(starts)) - 69) / 12.0)
    ends = np.append(starts[1:], n)
    xfade = int(XFADE_S * sr)
    y = np.zeros(n)
    for start, end, freq in zip(starts, ends, freqs):
        stop = min(n, end + xfade)
        t = np.arange(stop - start) / sr
        a = np.minimum(1.0, t / ATTACK_S)
        attack = a * a * (3 - 2 * a)  # smoothstep: no spectral splatter at the note's start
        release = np.clip((end + xfade - np.arange(start, stop)) / xfade, 0.0, 1.0)  # 1 until `end`, then fades
        y[start:stop] += _voice(inst.name, freq, t, sr) * attack * release
    fade = min(n, int(FADE_IN_S * sr))
    y[:fade] *= np.linspace(0.0, 1.0, fade) ** 2
    return (y / max(np.abs(y).max(), 1e-9)).astype(np.float32)


def hit_template(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """One percussive hit, peak-normalised to 1: kick with a pitch sweep plus a short noise burst."""
    t = np.arange(int(HIT_LENGTH_S * sample_rate)) / sample_rate
    # Phase of a sine whose frequency falls exponentially from F_START to F_END (closed-form integral).
    df = KICK_F_START_HZ - KICK_F_END_HZ
    phase = 2 * np.pi * (KICK_F_END_HZ * t + df * KICK_SWEEP_S * (1 - np.exp(-t / KICK_SWEEP_S)))
    kick = np.sin(phase) * np.exp(-t / KICK_DECAY_S)
    noise = rng.uniform(-1.0, 1.0, len(t)) * np.exp(-t / NOISE_DECAY_S) * NOISE_LEVEL
    y = kick + noise
    # Fade the last 10% so the template ends at 0 (no click).
    y *= np.minimum(1.0, (len(t) - np.arange(len(t))) / (0.1 * len(t)))
    return (y / np.abs(y).max()).astype(np.float32)


def render_hits(rng: np.random.Generator, hit_times: np.ndarray, cfg: WorldConfig) -> np.ndarray:
    """Hits placed so that each template starts exactly at sample round(t * sample_rate)."""
    n = num_samples(cfg)
    if len(hit_times) and (np.min(hit_times) < 0 or np.max(hit_times) >= cfg.duration_s):
        raise ValueError(f"hit times must lie in [0, {cfg.duration_s}) s, got {hit_times}")
    out = np.zeros(n, dtype=np.float32)
    tpl = hit_template(rng, cfg.sample_rate)
    for t in hit_times:
        s = int(round(t * cfg.sample_rate))
        m = min(len(tpl), n - s)
        if m > 0:
            out[s : s + m] += tpl[:m]
    return out


def render_music(rng: np.random.Generator, class_name: str, hit_times: np.ndarray, cfg: WorldConfig) -> np.ndarray:
    """Only the music: the class's tonal line plus hits at `hit_times` (seconds), mixed with the
    config's gains. For training data that needs no video."""
    tonal = render_tonal(rng, class_name, cfg)
    hits = render_hits(rng, np.asarray(hit_times, dtype=np.float64), cfg)
    return np.clip(cfg.tone_gain * tonal + cfg.hit_gain * hits, -1.0, 1.0).astype(np.float32)


def make_music(rng: np.random.Generator, class_name: str, tempo_bpm: float, cfg: WorldConfig) -> MusicClip:
    """Samples hit times on the tempo's beat grid and renders the music for them."""
    hits = sample_hit_times(rng, tempo_bpm, cfg)
    return MusicClip(render_music(rng, class_name, hits, cfg), hits, class_name, float(tempo_bpm))
