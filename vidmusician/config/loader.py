"""Loads the typed config: dataclass defaults <- preset YAML <- `config=` file or URI <- `key=value` overrides."""
from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass
from importlib import resources
from typing import Any, Sequence

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from vidmusician.config.schema import Config
from vidmusician.config.validate import config_problems

# Sections that were renamed: a config written for the old tree says where its keys went.
MOVED_SECTIONS = {"data": " (the `data` section is now `extract`; `data.video_suffixes` and `data.min_duration_s` "
                          "are `video.suffixes` and `video.min_duration_s`; the soundtracking job's decode "
                          "settings are `soundtrack.decode_num_cpus` and `soundtrack.cpu_resources`)",
                 "soundtrack.max_duration_s": " (now `video.max_duration_s`, shared by both jobs)"}
# Keys that pick what to load rather than being part of the tree.
_META_KEYS = ("preset", "config")


class ConfigError(ValueError):
    """A config that cannot be built; the message names the offending key."""


def available_presets() -> list[str]:
    files = resources.files("vidmusician").joinpath("configs").iterdir()
    return sorted(f.name[: -len(".yaml")] for f in files if f.name.endswith(".yaml"))


def _preset_yaml(name: str) -> str:
    path = resources.files("vidmusician").joinpath("configs", f"{name}.yaml")
    if not path.is_file():
        raise ConfigError(f"preset={name!r}: no such preset (available: {', '.join(available_presets())})")
    return path.read_text()


def _read_config_uri(uri: str) -> str:
    from vidmusician.storage import Storage  # storage needs no config to read a local file or an S3 object

    return Storage().read_text(uri)


def _split_overrides(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    meta: dict[str, str] = {}
    overrides: list[str] = []
    for arg in argv:
        if "=" not in arg or arg.startswith("="):
            raise ConfigError(f"argument {arg!r} is not of the form key=value")
        key = arg.split("=", 1)[0].strip()
        if key in _META_KEYS:
            meta[key] = arg.split("=", 1)[1]
        else:
            overrides.append(arg)
    return meta, overrides


def _merge(base: DictConfig, other: Any, source: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, other)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        reason = str(getattr(err, "msg", err)).splitlines()[0]
        moved = next((hint for old, hint in MOVED_SECTIONS.items() if key == old or key.startswith(old + ".")), "")
        raise ConfigError(f"{source}: key {key!r}: {reason}{moved}") from None


def load_config(argv: Sequence[str] = (), preset: str | None = None) -> Config:
    """Builds the typed config from command-line style `key=value` arguments.

    `preset=NAME` picks `vidmusician/configs/NAME.yaml` (default: the schema's `preset`, 'debug');
    `config=PATH_OR_URI` adds a YAML file (local or s3://) on top of the preset; the rest are overrides.
    """
    meta, overrides = _split_overrides(argv)
    preset = meta.get("preset", preset) or Config.preset
    cfg = OmegaConf.structured(Config)
    cfg = _merge(cfg, OmegaConf.create(_preset_yaml(preset)), f"preset {preset}")
    cfg.preset = preset
    if "config" in meta:
        cfg = _merge(cfg, OmegaConf.create(_read_config_uri(meta["config"])), f"config={meta['config']}")
    if overrides:
        try:
            dotlist = OmegaConf.from_dotlist(overrides)
        except OmegaConfBaseException as err:
            raise ConfigError(f"command line: {err}") from None
        cfg = _merge(cfg, dotlist, "command line")
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"missing value for key(s): {', '.join(missing)}")
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, Config)
    problems = config_problems(obj)
    if problems:
        raise ConfigError("; ".join(problems))
    return obj


def to_yaml(cfg: Config) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def dump_config(cfg: Config, output_uri: str, name: str = "config.yaml") -> str:
    """Writes the resolved config next to a run's outputs (unless it is there already, unchanged);
    returns its URI."""
    from vidmusician.storage import Storage, join_uri

    uri = join_uri(output_uri, name)
    Storage(cfg.storage).write_if_changed(uri, to_yaml(cfg).encode("utf-8"))
    return uri


def config_hash(section: Any) -> str:
    """A stable short hash of a config (sub)tree, for keying outputs by the settings that made them."""
    plain = OmegaConf.to_container(OmegaConf.structured(section)) if is_dataclass(section) else section
    blob = json.dumps(plain, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _walk(node: Any, prefix: str):
    for f in fields(node):
        value = getattr(node, f.name)
        key = f"{prefix}{f.name}"
        if is_dataclass(value):
            yield from _walk(value, key + ".")
        else:
            yield key, value


def help_text(job: str, summary: str, argv_example: str = "") -> str:
    lines = [
        f"usage: python jobs/{job}.py [preset=NAME] [config=PATH_OR_URI] [key=value ...]",
        "",
        summary,
        "",
        f"presets: {', '.join(available_presets())}",
        "keys (defaults of the schema; presets override some):",
    ]
    for key, value in _walk(Config(), ""):
        lines.append(f"  {key}={value if value is not MISSING else '???'}")
    if argv_example:
        lines += ["", f"example: python jobs/{job}.py {argv_example}"]
    return "\n".join(lines)
