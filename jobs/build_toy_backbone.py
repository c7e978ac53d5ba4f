"""Pretrains the toy backbone (tiny EnCodec + LM on the synthetic world's music) into toy.output_dir,
in MusicGen's release format; a no-op when that directory already holds the same build.

    python jobs/build_toy_backbone.py preset=toy [toy.codec_minutes=10 toy.lm_minutes=5 ...]

toy.output_dir defaults to the build shipped in the package (vidmusician/assets/toy-backbone): after a
change to the settings it was built with (tests/test_toy_backbone.py names them), run this and commit
the three files it rewrites there.
"""
import json
import sys

from vidmusician.cli import EXIT_OK, run_job
from vidmusician.config import Config
from vidmusician.toy.build import build_toy_backbone

SUMMARY = "Pretrains a tiny MusicGen on the synthetic world's music (CPU, minutes) and caches it."


def build(cfg: Config) -> int:
    report = build_toy_backbone(cfg)
    print(f"toy backbone in {cfg.toy.output_dir}:\n{json.dumps(report, indent=2)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("build_toy_backbone", SUMMARY, "preset=toy toy.codec_minutes=10", build,
                     writes_output=False))
