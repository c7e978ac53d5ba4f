"""Where each model's weights come from, and getting them onto the node that loads them.

A model name in the config (`model.musicgen.pretrained`, `model.clip.pretrained`, `model.t5.pretrained`)
is a hub id (`facebook/musicgen-small`), a local directory, `embedded:NAME` or an `s3://` folder. With
`weights.location` set, a hub id means the folder `<location>/<hub id>/`: the jobs then never call the
hub, and a model missing there fails the job at its start. `jobs/fetch_weights.py` fills a location
once, on a machine with internet. An `s3://` folder is copied into `weights.cache_dir` on each node that
loads it, one local folder per model folder: a file is downloaded again only when its object changed
(size and ETag), files deleted from the folder are deleted from the copy, and the processes of one
node take turns (a file lock), so a node downloads each model once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import fnmatch
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from vidmusician.config.schema import Config, WeightsConfig
from vidmusician.embedded import PREFIX as EMBEDDED_PREFIX
from vidmusician.embedded import model_path
from vidmusician.storage import Storage, StorageError, absolute_uri, join_uri

# MusicGen's release format (audiocraft's loaders read these two files of a hub repo or directory).
LM_FILE = "state_dict.bin"
CODEC_FILE = "compression_state_dict.bin"
WEIGHT_SUFFIXES = (".safetensors", ".bin")
# The node copy's record of the fingerprint of each file it holds.
COPY_RECORD = ".vidmusician-copy.json"


def _has_weights(files: list[str]) -> bool:
    return any(f.endswith(WEIGHT_SUFFIXES) for f in files)


@dataclasses.dataclass(frozen=True)
class ModelSlot:
    """One pretrained model of the config: where its name sits and which files of its repo it needs.
    A repo holds other formats too (facebook/musicgen-small also has a 2.3 GB transformers copy)."""
    key: str
    files: tuple[str, ...]
    # Fetched only when `files` brought no weights (repos without safetensors).
    fallback_files: tuple[str, ...] = ()
    # Files a complete copy must hold besides its weights (MusicGen's are its exact `files`).
    required: tuple[str, ...] = ()

    def missing(self, files: list[str]) -> list[str]:
        """What a folder holding `files` lacks to be loadable."""
        exact = [f for f in self.files if not any(ch in f for ch in "*?[")]
        lacking = sorted((set(exact) | set(self.required)) - set(files))
        if not _has_weights(files):
            lacking.append("weights (" + ", ".join(p for p in self.files + self.fallback_files
                                                    if p.endswith(WEIGHT_SUFFIXES)) + ")")
        return lacking


TRANSFORMERS_FILES = ("*.json", "*.safetensors")
TRANSFORMERS_FALLBACK = ("pytorch_model.bin",)
SLOTS = (ModelSlot("model.musicgen.pretrained", (LM_FILE, CODEC_FILE)),
         ModelSlot("model.clip.pretrained", TRANSFORMERS_FILES, TRANSFORMERS_FALLBACK, ("config.json",)),
         ModelSlot("model.t5.pretrained", TRANSFORMERS_FILES, TRANSFORMERS_FALLBACK, ("config.json",)),
         ModelSlot("soundtrack.publish.music_detector", TRANSFORMERS_FILES, TRANSFORMERS_FALLBACK,
                   ("config.json", "preprocessor_config.json")))


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


def location_uri(location: str) -> str:
    """`weights.location` as every process reads it: s3:// unchanged, file:// as its path, a local path
    absolute (`~` expanded). Jobs resolve it once in the driver (cli.run_job), before Ray workers that
    run in other directories get the config."""
    if location.startswith("file://"):
        return unquote(urlsplit(location).path)
    return absolute_uri(model_path(location))


def source(name: str | None, wcfg: WeightsConfig) -> str | None:
    """Where a model name is read from: `<location>/<hub id>` for a hub id when a location is set,
    the name itself otherwise."""
    if name and wcfg.location and is_hub_id(name):
        return join_uri(location_uri(wcfg.location), name)
    return name


def configured_models(cfg: Config) -> dict[str, str]:
    """Config key -> model name, for every pretrained model the config names."""
    return {slot.key: _get(cfg, slot.key) for slot in SLOTS if _get(cfg, slot.key)}


def check_weights(cfg: Config) -> None:
    """At a job's start: every model that `weights.location` should hold is there, complete (else
    every actor would fail on its own, later, one by one)."""
    if not cfg.weights.location:
        return
    storage = Storage(cfg.storage)
    for slot in SLOTS:
        name = _get(cfg, slot.key)
        where = source(name, cfg.weights)
        if where == name:
            continue
        try:
            files = [u[len(where.rstrip("/")) + 1:] for u in storage.list(where)]
        except StorageError as err:
            raise WeightsError(f"{slot.key}={name}: cannot read weights.location: {err}") from None
        lacking = slot.missing(files)
        if lacking:
            raise WeightsError(f"{slot.key}={name}: {where} lacks {', '.join(lacking)}; fill weights.location "
                               f"once with `python jobs/fetch_weights.py` and the same config, on a machine "
                               f"that can reach the hub")


@contextlib.contextmanager
def _node_lock(folder: Path):
    """One process of a node at a time fills a copy; the others wait, then find it done."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _node_copy(uri: str, wcfg: WeightsConfig, storage: Storage) -> str:
    """A local folder holding the s3:// folder `uri` as it is now, under this node's cache."""
    uri = uri.rstrip("/")
    local = Path(model_path(wcfg.cache_dir)) / hashlib.sha256(uri.encode()).hexdigest()[:16]
    with _node_lock(local):
        remote = {obj[len(uri) + 1:]: storage.fingerprint(obj) for obj in storage.list(uri)}
        if not remote:
            raise WeightsError(f"{uri}: no files there")
        record = local / COPY_RECORD
        held = json.loads(record.read_text()) if record.is_file() else {}
        for rel, print_ in remote.items():
            if held.get(rel) != print_ or not (local / rel).is_file():
                storage.download_file(join_uri(uri, rel), str(local / rel))
        for rel in set(held) - set(remote):  # deleted from the folder: deleted from the copy
            (local / rel).unlink(missing_ok=True)
        if held != remote:
            record.write_text(json.dumps(remote, sort_keys=True))
    return str(local)


def local_models(cfg: Config) -> Config:
    """A copy of `cfg` whose model names are what this process loads: a local directory (embedded,
    local, or this node's copy of an s3:// folder), or a hub id when no location is set."""
    out = dataclasses.replace(cfg)  # shallow: the model sections are replaced below, not mutated
    out.model = dataclasses.replace(cfg.model, musicgen=dataclasses.replace(cfg.model.musicgen),
                                    clip=dataclasses.replace(cfg.model.clip),
                                    t5=dataclasses.replace(cfg.model.t5))
    out.soundtrack = dataclasses.replace(cfg.soundtrack, publish=dataclasses.replace(cfg.soundtrack.publish))
    storage = Storage(cfg.storage)
    for key, name in configured_models(cfg).items():
        _set(out, key, local_name(key, name, cfg, storage))
    return out


def local_name(key: str, name: str, cfg: Config, storage: Storage) -> str:
    """What this process loads for the model `name` at config `key` (see local_models)."""
    where = source(name, cfg.weights)
    if Storage.is_remote(where):
        return _node_copy(where, cfg.weights, storage)
    if where != name or not is_hub_id(where):  # a directory, never a hub id, from here on
        where = model_path(where)
        if not os.path.isdir(where):
            raise WeightsError(f"{key}={name}: {where} is not a directory")
    return where



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
        try:
            folder, files = _download(name, slot.files)
            found = [(folder, f) for f in files]
            if slot.fallback_files and not _has_weights(files):
                fallback, more = _download(name, slot.fallback_files)
                found += [(fallback, f) for f in more]
        except Exception as err:  # the hub's own errors: not found, gated, offline without a cached copy
            raise WeightsError(f"{slot.key}={name}: the hub did not provide it ({type(err).__name__}: "
                               f"{str(err).splitlines()[0] if str(err) else ''})") from err
        lacking = slot.missing([f for _, f in found])
        if lacking:
            raise WeightsError(f"{slot.key}={name}: the hub repo lacks {', '.join(lacking)}")
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
