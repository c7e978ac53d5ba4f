"""Trains the VidMusician adapters with Ray Train (DDP), from a feature dataset or straight from videos.

    python jobs/train.py train.features=URI output=URI [preset=NAME] [train.stage=1|2|both] [key=value ...]
    python jobs/train.py input=URI output=URI [train.video_features=object_store|storage] [key=value ...]

Given videos (`input`: a folder, prefix or manifest), the extract job's decode and feature stages run
first, once, and `<output>/outcomes.parquet` gets one row per input (train/video_data.py).

Stage 1 trains the semantic path, stage 2 the rhythm path starting from stage 1's adapters. Ray keeps
the last train.keep_checkpoints checkpoints of each stage under train.storage_path (local or s3://;
default <output>/checkpoints); `<output>/stage<N>/` holds each stage's final and best adapters,
`<output>/tensorboard/` the metrics and `<output>/adapters.safetensors` the export the soundtracking
job loads. train.run_name=<an earlier run> resumes that run."""
import sys

from vidmusician.cli import EXIT_OK, run_job
from vidmusician.config import Config
from vidmusician.train.run import run_training

SUMMARY = "Feature dataset or videos -> two-stage adapter training on Ray Train (DDP) -> adapters.safetensors."


def train(cfg: Config) -> int:
    result = run_training(cfg)
    print(f"train -> {cfg.output}\n{result.summary()}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("train", SUMMARY, "train.features=outputs/features output=outputs/train", train,
                     loads_weights=True))
