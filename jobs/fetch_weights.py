"""Copies the configured pretrained weights from the Hugging Face hub into `weights.location` (a
directory or s3:// prefix), once, on a machine with internet; jobs on clusters without internet then
load from there and never call the hub.

    python jobs/fetch_weights.py preset=small weights.location=s3://my-bucket/weights
"""
import sys
import time

from vidmusician.cli import EXIT_FAILED, EXIT_OK, run_job
from vidmusician.config import Config
from vidmusician.weights import WeightsError, fetch

SUMMARY = ("Downloads each configured hub model (model.musicgen/clip/t5.pretrained) into weights.location, "
           "the files its loader needs only; a rerun copies only what is missing.")


def fetch_weights(cfg: Config) -> int:
    start = time.perf_counter()
    print(f"fetch_weights: into {cfg.weights.location}")
    try:
        fetch(cfg)
    except WeightsError as err:
        print(f"fetch_weights: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"fetch_weights: done in {time.perf_counter() - start:.1f} s; run jobs with "
          f"weights.location={cfg.weights.location}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("fetch_weights", SUMMARY, "preset=small weights.location=s3://my-bucket/weights",
                     fetch_weights, writes_output=False, uses_devices=False))
