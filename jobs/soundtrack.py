"""Nightly bulk soundtracking: music for every video under a prefix (or in a manifest).

    python jobs/soundtrack.py input=URI_PREFIX_OR_MANIFEST output=URI [soundtrack.adapters=URI] [preset=NAME] [key=value ...]

Writes under `<output>/<model_version>/`: per video `soundtracks/<content_hash>.{wav,mp4,json}`, the score
table `scores.parquet` (one row per input: ok, error with its reason, or not done when an infrastructure
fault outlasted the retries), `review/index.html`, and the outcome parts that let a rerun resume. No
`soundtrack.adapters`: the base model with null visual conditions. Exit 0 when every input has a final
outcome (errors included), 1 when some are not done (rerun to finish them) or the job stopped or failed."""
import sys

from vidmusician.cli import EXIT_BAD_CONFIG, EXIT_FAILED, EXIT_OK, run_job
from vidmusician.config import Config
from vidmusician.models.checkpoint import AdapterMismatch, check_adapters
from vidmusician.soundtrack.pipeline import run_soundtrack

SUMMARY = ("Videos -> CPU prepare (hash, reuse, probe) -> generation actor pool (isolated decoding chunk by chunk, "
           "CLIP + adapted MusicGen, batched CFG) -> wav, muxed mp4, scores -> score table + review page. "
           "Reruns skip what is done.")


def soundtrack(cfg: Config) -> int:
    print(f"soundtrack: adapters {cfg.soundtrack.adapters or 'none (base model, null visual conditions)'}")
    if cfg.soundtrack.adapters:
        try:  # before any video: adapters of another model would make wrong music, not an error
            check_adapters(cfg.soundtrack.adapters, cfg.model, cfg.storage)
        except AdapterMismatch as err:
            print(f"soundtrack: bad configuration: soundtrack.adapters={err}", file=sys.stderr)
            return EXIT_BAD_CONFIG
    result = run_soundtrack(cfg)
    print(f"soundtrack -> {result.layout.root}\n{result.summary}")
    print(f"score table: {result.layout.scores}\nreview page: {result.layout.review}")
    if result.work["not_done"]:
        print(f"soundtrack: {result.work['not_done']} inputs not done because of infrastructure faults; "
              "rerun the same command to finish them", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("soundtrack", SUMMARY, "input=outputs/demo/silent/videos output=outputs/soundtracks "
                     "soundtrack.adapters=outputs/demo/train/adapters.safetensors", soundtrack,
                     loads_weights=True))
