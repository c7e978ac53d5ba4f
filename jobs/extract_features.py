"""Turns a folder or bucket of videos into the training feature dataset.

    python jobs/extract_features.py input=URI_PREFIX_OR_MANIFEST output=URI [preset=NAME] [key=value ...]

Writes `<output>/features/part-*.parquet` (one row per training window: CLS tokens, rhythm curve at
the LM frame rate, EnCodec codes, masks) and `<output>/outcomes.parquet` (exactly one row per input:
ok with its window count, error with the reason, or not done when an infrastructure fault outlasted the
retries). Exit 0 when every input has a final outcome, 1 when some are not done (rerun the job)."""
import sys

from vidmusician.cli import EXIT_FAILED, EXIT_OK, run_job
from vidmusician.config import Config
from vidmusician.extract.pipeline import run_extract

SUMMARY = ("Videos -> CPU decode (PyAV, isolated, window by window) -> CLIP + EnCodec features -> Parquet "
           "feature dataset + outcomes.")


def extract(cfg: Config) -> int:
    print(f"source separation: {cfg.extract.separation}"
          f"{'' if cfg.extract.separation == 'none' else ' (' + str(cfg.extract.separation_model) + ')'}; "
          f"loudness target: {cfg.extract.target_lufs} LUFS")
    result = run_extract(cfg)
    print(f"extract_features -> {cfg.output}\n{result.summary}\noutcomes: {result.outcomes_uri}")
    if result.not_done:
        print(f"extract_features: {result.not_done} inputs not done because of infrastructure faults; rerun "
              "the same command to finish them", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("extract_features", SUMMARY, "input=outputs/demo/world/videos output=outputs/features",
                     extract, loads_weights=True))
