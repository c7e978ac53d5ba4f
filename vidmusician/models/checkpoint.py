"""Adapter-only checkpoints: safetensors holding just the adapter weights, plus the model config that
built them (as safetensors metadata), written and read through the storage layer."""
from __future__ import annotations

import json
import struct

from omegaconf import OmegaConf
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from vidmusician.config.schema import ModelConfig, StorageConfig
from vidmusician.models.vidmusician import VidMusician, is_adapter_param
from vidmusician.storage import ObjectNotFound, Storage

# Model settings that shape training only: adapters trained with other values fit any model.
TRAINING_ONLY = ("cond_dropout", "stage2_trains_semantic", "semantic.lora.dropout", "musicgen.lm.cfg_dropout")


class AdapterMismatch(ValueError):
    """Adapters made for another model (another backbone, encoder or adapter architecture)."""

CONFIG_KEY = "vidmusician.model_config"
STAGE_KEY = "vidmusician.stage"


def _metadata(blob: bytes) -> dict:
    # safetensors layout: 8-byte little-endian header length, then the JSON header.
    try:
        (header_len,) = struct.unpack("<Q", blob[:8])
        return json.loads(blob[8:8 + header_len]).get("__metadata__", {})
    except (struct.error, ValueError, AttributeError):
        return {}  # not safetensors: read_adapters says it is not an adapter checkpoint


def adapter_bytes(model: VidMusician) -> bytes:
    state = {k: v.detach().contiguous().cpu() for k, v in model.adapter_state_dict().items()}
    meta = {CONFIG_KEY: OmegaConf.to_yaml(OmegaConf.structured(model.config)), STAGE_KEY: str(model.stage)}
    return save_safetensors(state, metadata=meta)


def save_adapters(model: VidMusician, uri: str, storage: StorageConfig | None = None) -> str:
    Storage(storage).write_bytes(uri, adapter_bytes(model))
    return uri


def read_adapters(uri: str, storage: StorageConfig | None = None) -> tuple[dict, ModelConfig, int]:
    """Returns (adapter state dict, the model config that made it, its stage)."""
    blob = Storage(storage).read_bytes(uri)
    meta = _metadata(blob)
    if CONFIG_KEY not in meta:
        raise ValueError(f"{uri}: not a VidMusician adapter checkpoint (no {CONFIG_KEY} metadata)")
    mcfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ModelConfig),
                                               OmegaConf.create(meta[CONFIG_KEY])))
    return load_safetensors(blob), mcfg, int(meta.get(STAGE_KEY, "1"))


def _flat(tree: dict, prefix: str = "model") -> dict[str, object]:
    out = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}.{key}") if isinstance(value, dict) else {f"{prefix}.{key}": value})
    return out


def config_differences(recorded: ModelConfig, configured: ModelConfig) -> list[str]:
    """Each model setting (dotted key) where adapters' recorded config and the configured one differ."""
    a, b = (_flat(OmegaConf.to_container(OmegaConf.structured(c), resolve=True)) for c in (recorded, configured))
    skip = {f"model.{k}" for k in TRAINING_ONLY}
    return [f"{k}: adapters {a.get(k)!r}, config {b.get(k)!r}" for k in sorted(set(a) | set(b))
            if k not in skip and a.get(k) != b.get(k)]


def check_adapters(uri: str, configured: ModelConfig, storage: StorageConfig | None = None) -> None:
    """Raises AdapterMismatch when the file is missing, is not an adapter checkpoint, or was made for
    another model than `configured` (every setting but the training-only ones must agree)."""
    try:
        _, recorded, _ = read_adapters(uri, storage)
    except ObjectNotFound:
        raise AdapterMismatch(f"{uri}: no such adapter file") from None
    except ValueError as err:
        raise AdapterMismatch(str(err)) from None
    differences = config_differences(recorded, configured)
    if differences:
        raise AdapterMismatch(f"{uri}: adapters made for another model ({len(differences)} settings differ: "
                              + "; ".join(differences[:4]) + ")")


def load_adapters(model: VidMusician, uri: str, storage: StorageConfig | None = None) -> VidMusician:
    """Loads adapter weights onto a model built from the same model config (checked, training-only
    settings aside); every adapter key must match."""
    state, recorded, stage = read_adapters(uri, storage)
    differences = config_differences(recorded, model.config)
    if differences:
        raise AdapterMismatch(f"{uri}: adapters made for another model: " + "; ".join(differences[:4]))
    expected = model.adapter_state_dict()
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    reshaped = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or reshaped or not all(is_adapter_param(k) for k in state):
        raise ValueError(f"{uri}: adapters do not fit this model (missing {sorted(missing)[:5]}, "
                         f"unexpected {sorted(unexpected)[:5]}, other shape {reshaped[:5]})")
    model.load_state_dict(state, strict=False)
    model.set_stage(stage)
    return model
