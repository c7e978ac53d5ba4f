"""Nightly bulk soundtracking: music for every video under a prefix (or in a manifest).

    python jobs/soundtrack.py input=URI_PREFIX_OR_MANIFEST output=URI [soundtrack.adapters=URI] [preset=NAME] [key=value ...]

Writes under `<output>/<model_version>/`: per video `soundtracks/<content_hash>.{wav,mp4,json}`, the score
table `scores.parquet` (one row per input: ok, or error with its reason), `review/index.html`, and the
outcome parts that let a rerun resume. No `soundtrack.adapters`: the base model with null visual
conditions. Exit 0 when every input has an outcome (errors included), 1 when the job itself failed."""
import sys

from vidmusician.cli import EXIT_OK, run_job
from vidmusician.config import Config
from vidmusician.soundtrack.pipeline import run_soundtrack

SUMMARY = ("Videos -> CPU decode -> generation actor pool (CLIP + adapted MusicGen, batched CFG) -> wav, muxed mp4, "
           "scores -> score table + review page. Reruns skip what is done.")


def soundtrack(cfg: Config) -> int:
    print(f"soundtrack: adapters {cfg.soundtrack.adapters or 'none (base model, null visual conditions)'}")
    result = run_soundtrack(cfg)
    print(f"soundtrack -> {result.layout.root}\n{result.summary}")
    print(f"score table: {result.layout.scores}\nreview page: {result.layout.review}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("soundtrack", SUMMARY, "input=outputs/demo/silent/videos output=outputs/soundtracks "
                     "soundtrack.adapters=outputs/demo/train/adapters.safetensors", soundtrack,
                     loads_weights=True))
