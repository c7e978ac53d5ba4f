"""Writes the learning proof's training world, extracts its features and stores them, stamped, as the
set shipped in the package (vidmusician/assets/proof-features), which the proof then uses instead of
extracting them on every run (vidmusician/evaluation/proof_features.py).

    python jobs/build_proof_features.py preset=toy

Run it and commit what it rewrites there after a change that tests/test_proof_features.py reports (the
shipped windows differ from a fresh extraction) or after a change to the world's, the features' or the
toy backbone's settings (the proof then extracts anew, and says why).
"""
import sys

from vidmusician.cli import EXIT_OK, run_job
from vidmusician.config import Config
from vidmusician.evaluation.proof_features import build_proof_features
from vidmusician.toy.build import with_toy_backbone

SUMMARY = "The learning proof's training world -> extract job -> the shipped feature set and its stamp."


def build(cfg: Config) -> int:
    build_proof_features(with_toy_backbone(cfg))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("build_proof_features", SUMMARY, "preset=toy", build, writes_output=False))
