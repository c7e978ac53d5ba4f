"""The learning proof as a benchmark: prints the table the README shows and writes the scores.

Same code as tests/test_learning_proof.py (`run_proof` on the `toy` preset): toy backbone (shipped) ->
training world -> features (Ray Data) -> stage 1 -> stage 2 (Ray Train) -> held-out videos, every system
scored with every seed. Extra `key=value` arguments override the config (e.g. proof.seeds=[0,1,2,3,4]).
Usage: python bench/learning_proof.py [key=value ...] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from vidmusician.config import load_config
from vidmusician.evaluation.learning_proof import run_proof


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "learning_proof_cpu.json"))
    args, overrides = ap.parse_known_args()
    cfg = load_config(["preset=toy", *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        result = run_proof(cfg, tmp)
    print(result.table())
    print(result.train_summary)
    report = {"scores_per_seed": result.results, "seeds": list(cfg.proof.seeds),
              "classifier_accuracy_on_real_clips": result.classifier_accuracy, "timings_s": result.timings,
              "train_summary": result.train_summary, "date": time.strftime("%Y-%m-%d"), "machine": "2-core CPU"}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
