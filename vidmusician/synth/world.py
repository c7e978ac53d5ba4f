"""Writes the synthetic world: mp4 clips whose class and event times are known, plus their ground truth.

Per clip i (of `world.num_videos`):
  class      = classes[i % len(classes)] (round-robin, so the classes stay balanced);
  tempo      = one of `tempos_bpm`;
  events     = beats of that tempo, rounded to the frame grid (see music.sample_hit_times);
  video      = the class's scene with a cut / flash / burst starting exactly at each event frame;
  audio      = the class's instrument + a percussive hit starting exactly at each event time.
Everything is drawn from `np.random.default_rng([world.seed, i])`, so a clip does not depend on how many
others are written, and the same seed gives the same table, frames and audio samples.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from vidmusician.config.schema import Config, StorageConfig, WorldConfig
from vidmusician.storage import Storage, join_uri
from vidmusician.synth import music, video
from vidmusician.synth.media import encode_mp4

GROUND_TRUTH_NAME = "ground_truth.parquet"
VIDEOS_DIR = "videos"
WORLD_META_KEY = b"vidmusician.world"  # parquet schema metadata: the WorldConfig that made the table

GROUND_TRUTH_SCHEMA = pa.schema([
    ("video_id", pa.string()),
    ("uri", pa.string()),
    ("class_name", pa.string()),
    ("class_index", pa.int32()),
    ("tempo_bpm", pa.float64()),
    ("event_times", pa.list_(pa.float64())),  # seconds; multiples of 1/fps
    ("event_frames", pa.list_(pa.int32())),  # round(event_time * fps): first frame showing the event
    ("event_kinds", pa.list_(pa.string())),  # cut | flash | burst
    ("hit_times", pa.list_(pa.float64())),  # seconds; equal to event_times
    ("duration_s", pa.float64()),
    ("fps", pa.int32()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("has_audio", pa.bool_()),
    ("sample_rate", pa.int32()),  # of the audio track (and of the synthesised music when has_audio is false)
    ("seed", pa.int64()),  # world.seed
])


@dataclass
class Clip:
    """One clip in memory, before encoding."""
    index: int
    class_name: str
    class_index: int
    tempo_bpm: float
    event_times: np.ndarray  # seconds, multiples of 1/fps; also the hit times
    event_frames: np.ndarray  # round(event_times * fps)
    event_kinds: list[str]
    frames: np.ndarray  # (N, H, W, 3) uint8
    audio: np.ndarray  # float32 mono, at world.sample_rate


def _check(world: WorldConfig) -> None:
    if not world.classes:
        raise ValueError("world.classes is empty")
    for name in world.classes:
        if name not in music.INSTRUMENTS or name not in video.STYLES:
            raise ValueError(f"world.classes: no instrument/scene for {name!r} (known: {', '.join(video.STYLES)})")


def make_clip(world: WorldConfig, index: int) -> Clip:
    """Clip `index` of the world, rendered in memory (frames and music)."""
    _check(world)
    plan, music_rng, video_rng = np.random.default_rng([world.seed, index]).spawn(3)
    class_index = class_index_of(world, index)
    class_name = world.classes[class_index]
    tempo = float(world.tempos_bpm[plan.integers(len(world.tempos_bpm))])
    times = music.sample_hit_times(plan, tempo, world)
    kinds = video.sample_event_kinds(plan, len(times))
    frames_at = np.round(times * world.fps).astype(np.int64)
    frames = video.render_frames(video_rng, class_name, frames_at, kinds, world)
    audio = music.render_music(music_rng, class_name, times, world)
    return Clip(index, class_name, class_index, tempo, times, frames_at, kinds, frames, audio)


def video_id(world: WorldConfig, index: int) -> str:
    return f"s{world.seed}-{index:05d}"


def class_index_of(world: WorldConfig, index: int) -> int:
    """The scene class (its index in world.classes) of the world's clip `index`: the classes take turns."""
    return index % len(world.classes)


def class_of(world: WorldConfig, video: str) -> str:
    """The scene class of the world's video `video_id(world, index)`, without rendering it."""
    return world.classes[class_index_of(world, int(video.rsplit("-", 1)[1]))]


def write_world(cfg: Config, output_uri: str | None = None) -> pa.Table:
    """Writes `<output>/videos/<video_id>.mp4` for each clip and `<output>/ground_truth.parquet`;
    returns the ground-truth table. `output_uri` defaults to `cfg.output`; local paths and s3:// work."""
    world = cfg.world
    _check(world)
    output = output_uri or cfg.output
    storage = Storage(cfg.storage)
    rows = []
    for i in range(world.num_videos):
        clip = make_clip(world, i)
        data = encode_mp4(clip.frames, world.fps, world.video_crf,
                          clip.audio if world.with_audio else None, world.sample_rate, world.audio_bitrate)
        uri = join_uri(output, VIDEOS_DIR, f"{video_id(world, i)}.mp4")
        storage.write_bytes(uri, data)
        rows.append({
            "video_id": video_id(world, i), "uri": uri, "class_name": clip.class_name,
            "class_index": clip.class_index, "tempo_bpm": clip.tempo_bpm,
            "event_times": clip.event_times.tolist(), "event_frames": clip.event_frames.tolist(),
            "event_kinds": list(clip.event_kinds), "hit_times": clip.event_times.tolist(),
            "duration_s": world.duration_s, "fps": world.fps, "width": world.width, "height": world.height,
            "has_audio": world.with_audio, "sample_rate": world.sample_rate, "seed": world.seed,
        })
    meta = {WORLD_META_KEY: json.dumps(asdict(world), sort_keys=True).encode()}
    table = pa.Table.from_pylist(rows, schema=GROUND_TRUTH_SCHEMA.with_metadata(meta))
    storage.write_parquet(join_uri(output, GROUND_TRUTH_NAME), table)
    return table


def read_ground_truth(output_uri: str, storage_cfg: StorageConfig | None = None) -> pa.Table:
    """The ground-truth table written by `write_world` under `output_uri`."""
    return Storage(storage_cfg).read_parquet(join_uri(output_uri, GROUND_TRUTH_NAME))
