"""Where each model's weights come from, and getting them onto the node that loads them.

A model name in the config (`model.musicgen.pretrained`, `model.clip.pretrained`, `model.t5.pretrained`)
is a hub id (`facebook/musicgen-small`), a local directory, `embedded:NAME` or an `s3://` folder. With
`weights.location` set, a hub id means the folder `<location>/<hub id>/`: the jobs then never call the
hub, and a model missing there fails the job at its start. `jobs/fetch_weights.py` fills a location
once, on a machine with internet. An `s3://` folder is copied into `weights.cache_dir` on each node that
loads it; a file already there with the same size is kept, so a node downloads each model once.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import os
from pathlib import Path

from vidmusician.config.schema import Config, WeightsConfig
from vidmusician.embedded import PREFIX as EMBEDDED_PREFIX
from vidmusician.embedded import model_path
from vidmusician.storage import BucketNotFound, Storage, join_uri

# MusicGen's release format (audiocraft's loaders read these two files of a hub repo or directory).
LM_FILE = "state_dict.bin"
CODEC_FILE = "compression_state_dict.bin"


@dataclasses.dataclass(frozen=True)
class ModelSlot:
    """One pretrained model of the config: where its name sits and which files of its repo it needs.
    A repo holds other formats too (facebook/musicgen-small also has a 2.3 GB transformers copy)."""
    key: str
    files: tuple[str, ...]
    # Fetched only when `files` brought no weights (repos without safetensors).
    fallback_files: tuple[str, ...] = ()


TRANSFORMERS_FILES = ("*.json", "*.safetensors")
TRANSFORMERS_FALLBACK = ("pytorch_model.bin",)
WEIGHT_SUFFIXES = (".safetensors", ".bin")
SLOTS = (ModelSlot("model.musicgen.pretrained", (LM_FILE, CODEC_FILE)),
         ModelSlot("model.clip.pretrained", TRANSFORMERS_FILES, TRANSFORMERS_FALLBACK),
         ModelSlot("model.t5.pretrained", TRANSFORMERS_FILES, TRANSFORMERS_FALLBACK))


class WeightsError(ValueError):
    """A configured model that cannot be found where the config says it is."""


def _get(cfg: Config, key: str):
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _set(cfg: Config, key: str, value) -> None:
    *parents, last = key.split(".")
    node = cfg
    for part in parents:
        node = getattr(node, part)
    setattr(node, last, value)


def is_hub_id(name: str) -> bool:
    """A name the hub would resolve: not a URI, not `embedded:`, not a path that exists here."""
    if "://" in name or name.startswith((EMBEDDED_PREFIX, "/", ".", "~")):
        return False
    return not os.path.exists(name)


def source(name: str | None, wcfg: WeightsConfig) -> str | None:
    """Where a model name is read from: `<location>/<hub id>` for a hub id when a location is set,
    the name itself otherwise."""
    if name and wcfg.location and is_hub_id(name):
        return join_uri(model_path(wcfg.location), name)  # `~` expanded; s3:// unchanged
    return name


def configured_models(cfg: Config) -> dict[str, str]:
    """Config key -> model name, for every pretrained model the config names."""
    return {slot.key: _get(cfg, slot.key) for slot in SLOTS if _get(cfg, slot.key)}


def check_weights(cfg: Config) -> None:
    """At a job's start: every model that `weights.location` should hold is there (else every actor
    would fail on its own, later, one by one)."""
    if not cfg.weights.location:
        return
    storage = Storage(cfg.storage)
    for key, name in configured_models(cfg).items():
        where = source(name, cfg.weights)
        try:
            found = where == name or bool(storage.list(where))
        except BucketNotFound as err:
            raise WeightsError(f"{key}={name}: weights.location {err}") from None
        if not found:
            raise WeightsError(f"{key}={name} is not under weights.location ({where} is empty or missing); "
                               f"fill the location once with `python jobs/fetch_weights.py` and the same "
                               f"config, on a machine that can reach the hub")


def _node_copy(uri: str, wcfg: WeightsConfig, storage: Storage) -> str:
    """A local folder holding the s3:// folder `uri`, under this node's cache."""
    digest = hashlib.sha256(uri.rstrip("/").encode()).hexdigest()[:16]
    local = Path(model_path(wcfg.cache_dir)) / digest
    prefix = uri.rstrip("/") + "/"
    objects = storage.list(uri)
    if not objects:
        raise WeightsError(f"{uri}: no files there")
    for obj in objects:
        target = local / obj[len(prefix):]
        if not (target.is_file() and target.stat().st_size == storage.size(obj)):
            storage.download_file(obj, str(target))
    return str(local)


def local_models(cfg: Config) -> Config:
    """A copy of `cfg` whose model names are what this process loads: a local directory (embedded,
    local, or this node's copy of an s3:// folder), or a hub id when no location is set."""
    out = dataclasses.replace(cfg)  # shallow: the model sections are replaced below, not mutated
    out.model = dataclasses.replace(cfg.model, musicgen=dataclasses.replace(cfg.model.musicgen),
                                    clip=dataclasses.replace(cfg.model.clip),
                                    t5=dataclasses.replace(cfg.model.t5))
    storage = Storage(cfg.storage)
    for key, name in configured_models(cfg).items():
        where = source(name, cfg.weights)
        if Storage.is_remote(where):
            where = _node_copy(where, cfg.weights, storage)
        elif not is_hub_id(where):
            where = model_path(where)
            if not os.path.isdir(where):
                raise WeightsError(f"{key}={name}: {where} is not a directory")
        _set(out, key, where)
    return out



def _matching(folder: Path, patterns: tuple[str, ...]) -> list[str]:
    """Files under `folder` (relative, posix) that match any of the patterns, as the hub's
    `allow_patterns` match them."""
    found = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    return sorted(f for f in found if any(fnmatch.fnmatch(f, pat) for pat in patterns))


def _download(name: str, patterns: tuple[str, ...]) -> tuple[Path, list[str]]:
    """The repo's files that match, through the hub's own cache (HF_HOME): a second fetch of the same
    revision downloads nothing."""
    from huggingface_hub import snapshot_download  # only this job talks to the hub
    folder = Path(snapshot_download(name, allow_patterns=list(patterns)))
    return folder, _matching(folder, patterns)


def _has_weights(files: list[str]) -> bool:
    return any(f.endswith(WEIGHT_SUFFIXES) for f in files)


def fetch(cfg: Config, log=print) -> dict[str, str]:
    """Copies the files each configured hub model needs into `weights.location` (config key -> where
    it went). Rerunnable: a file already there with the same size is not copied again."""
    location = cfg.weights.location
    if not location:
        raise WeightsError("weights.location is not set: name the directory or s3:// prefix to fill")
    storage = Storage(cfg.storage)
    done = {}
    for slot in SLOTS:
        name = _get(cfg, slot.key)
        if not name or not is_hub_id(name):
            log(f"  {slot.key}: {name or 'random weights'} (not a hub id: nothing to fetch)")
            continue
        folder, files = _download(name, slot.files)
        found = [(folder, f) for f in files]
        if slot.fallback_files and not _has_weights(files):
            fallback, more = _download(name, slot.fallback_files)
            found += [(fallback, f) for f in more]
        exact = [p for p in slot.files if not any(ch in p for ch in "*?[")]
        missing = sorted(set(exact) - set(files))
        if missing or not _has_weights([f for _, f in found]):
            raise WeightsError(f"{slot.key}={name}: the hub repo lacks {missing or 'weights'} "
                               f"(looked for {list(slot.files + slot.fallback_files)})")
        target = source(name, cfg.weights)
        copied = 0
        for root, rel in found:
            local, uri = root / rel, join_uri(target, rel)
            if storage.exists(uri) and storage.size(uri) == local.stat().st_size:
                continue
            storage.upload_file(str(local), uri)
            copied += 1
        log(f"  {slot.key}: {name} -> {target} ({len(found)} files, {copied} copied)")
        done[slot.key] = target
    return done
