"""Writes the synthetic world: `<output>/videos/*.mp4` and `<output>/ground_truth.parquet`.

    python jobs/make_world.py [preset=NAME] [key=value ...]
    python jobs/make_world.py output=outputs/world world.num_videos=20 world.with_audio=false
"""
import sys
import time
from collections import Counter

from vidmusician.cli import EXIT_OK, run_job
from vidmusician.config import Config
from vidmusician.storage import join_uri
from vidmusician.synth.world import GROUND_TRUTH_NAME, write_world

SUMMARY = ("Writes short h264/AAC mp4 clips of the synthetic world (scene class and visual event times known;"
           " percussive hits on the events) and their ground-truth parquet.")


def make_world(cfg: Config) -> int:
    start = time.perf_counter()
    table = write_world(cfg)
    rows = table.to_pylist()
    per_class = Counter(r["class_name"] for r in rows)
    events = sum(len(r["event_times"]) for r in rows)
    print(f"make_world: {len(rows)} videos ({'with' if cfg.world.with_audio else 'without'} audio), "
          f"{sum(r['duration_s'] for r in rows):.1f} s in all, {events} events, "
          f"in {time.perf_counter() - start:.1f} s")
    print("  per class: " + ", ".join(f"{name}={per_class.get(name, 0)}" for name in cfg.world.classes))
    print(f"  videos: {join_uri(cfg.output, 'videos')}/")
    print(f"  ground truth: {join_uri(cfg.output, GROUND_TRUTH_NAME)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("make_world", SUMMARY, "output=outputs/world world.num_videos=20 world.with_audio=false",
                     make_world))
