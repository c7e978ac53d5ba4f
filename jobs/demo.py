"""The demo on the embedded default (local Ray, local storage, tiny models, CPU): README command 1.

    python jobs/demo.py [preset=toy (default) | debug] [output=outputs/demo] [key=value ...]

1. writes a synthetic world (videos with music, ground truth) and a silent "AI-generated" flavour;
2. loads the toy backbone, a tiny MusicGen pretrained on the world's music (preset `toy`; shipped in the
   package, built again into toy.cache_dir only when a run overrides the settings it was built with);
3. extracts the training features with the Ray Data pipeline (decode -> CLIP + codec -> Parquet);
4. trains stage 1 (semantic) then stage 2 (rhythm) with Ray Train, and prints the training summary;
5. soundtracks the silent videos with the trained adapters (the soundtracking job: batched CFG, sliding
   windows): a wav and a muxed mp4 each, the score table and the review page, whose path it prints.
With `preset=debug` every model is random and tiny: the same path in about two minutes, noise for music.
"""
import sys
import time
from dataclasses import replace

from vidmusician.cli import EXIT_OK, run_job
from vidmusician.config import Config
from vidmusician.extract.pipeline import run_extract
from vidmusician.soundtrack.pipeline import run_soundtrack
from vidmusician.storage import join_uri
from vidmusician.synth.world import write_world
from vidmusician.toy.build import with_toy_backbone
from vidmusician.train.run import run_training

SUMMARY = ("End-to-end demo: synthetic world -> toy backbone -> features (Ray Data) -> stage 1 + 2 "
           "(Ray Train) -> soundtracks for silent videos (local, CPU, tiny models).")


def demo(cfg: Config) -> int:
    start, laps = time.perf_counter(), {}

    def lap(name: str) -> None:
        laps[name] = time.perf_counter() - start - sum(laps.values())

    world_uri, silent_uri = join_uri(cfg.output, "world"), join_uri(cfg.output, "silent")
    world = write_world(cfg, world_uri)
    silent_cfg = replace(cfg, world=replace(cfg.world, with_audio=False, seed=cfg.world.seed + 1))
    silent = write_world(silent_cfg, silent_uri)
    lap("world")
    cfg = with_toy_backbone(cfg)
    lap("backbone")
    features_uri = join_uri(cfg.output, "features")
    extracted = run_extract(replace(cfg, input=join_uri(world_uri, "videos"), output=features_uri))
    lap("features")
    trained = run_training(replace(cfg, output=join_uri(cfg.output, "train"),
                                   train=replace(cfg.train, features=features_uri)))
    lap("training")
    music = run_soundtrack(replace(cfg, input=join_uri(silent_uri, "videos"), output=join_uri(cfg.output, "soundtracks"),
                                   soundtrack=replace(cfg.soundtrack, adapters=trained.adapters)))
    lap("music")

    print(f"demo (preset={cfg.preset}) done in {time.perf_counter() - start:.1f} s")
    print(f"  world:    {world.num_rows} videos with music + {silent.num_rows} silent -> {world_uri}/, "
          f"{silent_uri}/  ({laps['world']:.1f} s)")
    print(f"  backbone: {cfg.model.musicgen.pretrained or 'random (debug)'}  ({laps['backbone']:.1f} s)")
    print(f"  features: {features_uri}  ({laps['features']:.1f} s)\n    " + extracted.summary.replace("\n", "\n    "))
    print(f"  training ({laps['training']:.1f} s):\n    " + trained.summary().replace("\n", "\n    "))
    print(f"  soundtracks ({laps['music']:.1f} s): {music.layout.root}/\n    " + music.summary.replace("\n", "\n    "))
    print(f"  score table: {music.layout.scores}")
    print(f"  review page: {music.layout.review}")
    print(f"  config:   {join_uri(cfg.output, 'config.yaml')}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("demo", SUMMARY, "output=outputs/demo preset=debug", demo, default_preset="toy",
                     loads_weights=True))
