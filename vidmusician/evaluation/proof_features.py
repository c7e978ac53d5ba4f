"""The learning proof's training features, shipped with the package (as the toy backbone is).

Writing the proof's 240-video training world and extracting its features took about 90 s of the proof's
run on this machine (twice that beside the other test worker), for a result that only changes when what
makes it changes. The shipped copy (`embedded:proof-features`: the extract job's output and a stamp) is
used when its stamp equals this run's: the world's settings, the feature settings (model, video,
extract) and the toy backbone's files. Code that changes the features without changing a setting is
caught by tests/test_proof_features.py, which extracts the first videos again and compares them with the
shipped windows. Rebuild with `python jobs/build_proof_features.py preset=toy`."""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from vidmusician.config import Config
from vidmusician.config.loader import config_hash
from vidmusician.embedded import model_path
from vidmusician.storage import join_uri
from vidmusician.synth.world import write_world

SHIPPED = "embedded:proof-features"
STAMP = "proof-features.json"


def proof_world(cfg: Config) -> Config:
    """`cfg` with the proof's training world (proof.train_videos videos, proof.world_seed)."""
    return replace(cfg, world=replace(cfg.world, num_videos=cfg.proof.train_videos, seed=cfg.proof.world_seed))


def backbone_digest(cfg: Config) -> str | None:
    """The toy backbone's files (its codec makes the codes; the LM's files ride along for simplicity);
    None for a backbone that is not a local directory (a hub id, or none: never the proof's)."""
    pretrained = cfg.model.musicgen.pretrained
    directory = Path(model_path(pretrained)) if pretrained else None
    if directory is None or not directory.is_dir():
        return None
    digest = hashlib.sha256()
    for f in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(directory)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def features_stamp(cfg: Config) -> dict:
    from vidmusician.extract.pipeline import features_config_hash
    return {"world": config_hash(asdict(proof_world(cfg).world)), "features": features_config_hash(cfg),
            "backbone": backbone_digest(cfg)}


def shipped_features(cfg: Config, log=print) -> str | None:
    """The shipped feature dataset's directory when it was made with this run's settings, else None."""
    directory = Path(model_path(SHIPPED))
    stamp = directory / STAMP
    if not stamp.exists():
        return None
    made, wanted = json.loads(stamp.read_text()), features_stamp(cfg)
    if made != wanted:
        log(f"proof features: the shipped set was made with other "
            f"{', '.join(k for k in wanted if made.get(k) != wanted[k])} settings; extracting anew")
        return None
    return str(directory)


def training_features(cfg: Config, workdir: str, lap=lambda name: None, log=print) -> str:
    """The proof's training feature dataset: the shipped one when it was made with this run's settings
    (below), else the training world written under <workdir>/world and its
    features extracted into <workdir>/features."""
    shipped = shipped_features(cfg, log)
    if shipped is not None:
        log(f"proof: training features shipped with the package ({shipped})")
        lap("features")
        return shipped
    return extract_proof_features(cfg, workdir, lap)


def extract_proof_features(cfg: Config, workdir: str, lap=lambda name: None) -> str:
    """Writes the proof's training world under <workdir>/world and extracts its features into
    <workdir>/features (returned)."""
    from vidmusician.extract.pipeline import run_extract

    world_uri, features_uri = join_uri(workdir, "world"), join_uri(workdir, "features")
    write_world(proof_world(cfg), world_uri)
    lap("world")
    run_extract(replace(cfg, input=join_uri(world_uri, "videos"), output=features_uri))
    lap("features")
    return features_uri


def build_proof_features(cfg: Config, log=print) -> str:
    """Extracts the proof's features and stores them, stamped, as the shipped set (in the package's
    assets of this checkout)."""
    target = Path(model_path(SHIPPED))
    with tempfile.TemporaryDirectory() as work:
        made = Path(extract_proof_features(cfg, work))
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(made, target, ignore=shutil.ignore_patterns("config.yaml"))
    (target / STAMP).write_text(json.dumps(features_stamp(cfg), indent=2, sort_keys=True) + "\n")
    log(f"proof features: {sum(f.stat().st_size for f in target.rglob('*') if f.is_file()) / 2**20:.1f} MiB "
        f"in {target}")
    return str(target)
