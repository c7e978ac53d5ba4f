"""The frozen backbone: a MusicGen (LM + EnCodec compression model), loaded or built from config.

Loading goes through audiocraft's checkpoint readers and builders, so a hub id
(facebook/musicgen-small) and a local directory in MusicGen's release format (`state_dict.bin`,
`compression_state_dict.bin`, each `{'xp.cfg': <YAML string>, 'best_state': state_dict}`) take the
same path. torch >= 2.6 loads those with `weights_only=True` by default; `xp.cfg` is therefore kept as
a YAML string, never a pickled DictConfig (such files still load: CONFIG_GLOBALS). The LM's T5 text
conditioner is built without its T5 (models/text_projection.py), so loading a backbone from a
directory calls no hub. Random backbones (the `debug` preset, and the start of the toy backbone's
pretraining) are built from an xp.cfg of the same shape through audiocraft's builders, and saved in
the same format.
"""
from __future__ import annotations

import collections
import os
import typing
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.base import ContainerMetadata, Metadata
from omegaconf.nodes import AnyNode, BooleanNode, FloatNode, IntegerNode, StringNode

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.models import builders, loaders
from audiocraft.models.encodec import CompressionModel
from audiocraft.models.lm import LMModel

from vidmusician.config.schema import MusicGenConfig
from vidmusician.embedded import model_path
from vidmusician.models.text_projection import TextProjection, without_text_encoders
from vidmusician.weights import CODEC_FILE, LM_FILE



@dataclass
class Backbone:
    lm: LMModel
    codec: CompressionModel


def xp_cfg(mcfg: MusicGenConfig, device: str = "cpu") -> DictConfig:
    """The audiocraft experiment config (the `xp.cfg` of a release) for a backbone built from scratch."""
    codec, lm = mcfg.codec, mcfg.lm
    if lm_card(mcfg) < 1:  # configs changed in code skip load_config's validation
        raise ValueError("model.musicgen.codec.bins must be positive")
    cfg = {
        "device": device,
        "dtype": "float32",
        "sample_rate": codec.sample_rate,
        "channels": codec.channels,
        "compression_model": "encodec",
        "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": codec.sample_rate,
                    "channels": codec.channels, "causal": False, "renormalize": False},
        "seanet": {"dimension": codec.dimension, "channels": codec.channels, "causal": False,
                   "n_filters": codec.n_filters, "n_residual_layers": 1, "ratios": list(codec.ratios),
                   "activation": "ELU", "activation_params": {"alpha": 1.0}, "norm": "weight_norm",
                   "norm_params": {}, "kernel_size": 7, "residual_kernel_size": 3, "last_kernel_size": 7,
                   "dilation_base": 2, "pad_mode": "constant", "true_skip": True, "compress": 2,
                   "lstm": codec.lstm, "disable_norm_outer_blocks": 0,
                   "decoder": {"trim_right_ratio": 1.0, "final_activation": None,
                               "final_activation_params": None},
                   "encoder": {}},
        "rvq": {"n_q": codec.n_q, "q_dropout": False, "bins": codec.bins, "decay": 0.99,
                "kmeans_init": True, "kmeans_iters": 50, "threshold_ema_dead_code": 0.5,
                "orthogonal_reg_weight": 0.0, "orthogonal_reg_active_codes_only": False},
        "lm_model": "transformer_lm",
        "codebooks_pattern": {"modeling": "delay",
                              "delay": {"delays": list(range(codec.n_q)), "flatten_first": 0,
                                        "empty_initial": 0}},
        "transformer_lm": {"dim": lm.dim, "num_heads": lm.num_heads, "num_layers": lm.num_layers,
                           "hidden_scale": lm.hidden_scale, "n_q": codec.n_q, "card": lm_card(mcfg),
                           "dropout": 0.0, "emb_lr": None, "activation": "gelu", "norm_first": True,
                           "bias_ff": False, "bias_attn": False, "bias_proj": False,
                           "past_context": None, "causal": True, "custom": False,
                           "memory_efficient": False, "attention_as_float32": False,
                           "layer_scale": None, "positional_embedding": "sin", "xpos": False,
                           "checkpointing": "none", "weight_init": "gaussian",
                           "depthwise_init": "current", "zero_bias_init": True, "norm": "layer_norm",
                           "cross_attention": False, "qk_layer_norm": False,
                           "qk_layer_norm_cross": False, "attention_dropout": None, "kv_repeat": 1,
                           "two_step_cfg": False},
        "classifier_free_guidance": {"training_dropout": lm.cfg_dropout, "inference_coef": 3.0},
        "attribute_dropout": {},
        "fuser": {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1, "sum": [],
                  "prepend": [], "cross": [mcfg.cross_attention_key], "input_interpolate": []},
        "conditioners": {mcfg.cross_attention_key: {
            "model": "lut", "lut": {"n_bins": lm.lut_bins, "dim": lm.dim, "tokenizer": "noop"}}},
        "dataset": {"segment_duration": lm.segment_duration},
    }
    return OmegaConf.create(cfg)


def lm_card(mcfg: MusicGenConfig) -> int:
    # The LM's vocabulary is the codec's codebook size.
    return mcfg.codec.bins


# Seconds of seeded noise that initialise a random codec's codebooks.
CODEBOOK_INIT_S = 1.0


def _init_codebooks(codec: CompressionModel) -> None:
    """audiocraft's RVQ starts with all-zero codebooks and fills them by k-means on the first
    training forward; a random codec that skipped training would encode everything to code 0.
    Run that initialisation once on seeded noise (as audiocraft's debug model does)."""
    device = next(codec.parameters()).device
    if device.type == "meta":
        return
    noise = torch.randn(2, codec.channels, int(codec.sample_rate * CODEBOOK_INIT_S), device=device)
    with torch.no_grad():
        codec.quantizer(codec.encoder(noise), codec.frame_rate)


def build_random_codec(mcfg: MusicGenConfig, device: str = "cpu", seed: int = 0) -> tuple[CompressionModel, DictConfig]:
    cfg = xp_cfg(mcfg, device)
    torch.manual_seed(seed)
    codec = builders.get_compression_model(cfg).to(device)
    _init_codebooks(codec)
    return codec.eval(), cfg


def build_random(mcfg: MusicGenConfig, device: str = "cpu", seed: int = 0) -> tuple[Backbone, DictConfig]:
    """A randomly initialised backbone of the configured architecture, and the xp.cfg that built it.
    The codec comes first from the seed, so `build_random_codec` with the same seed gives the same one."""
    codec, cfg = build_random_codec(mcfg, device, seed)
    lm = builders.get_lm_model(cfg).to(device)
    return Backbone(lm=lm.eval(), codec=codec), cfg


def save_release(backbone: Backbone, cfg: DictConfig, directory: str | os.PathLike) -> Path:
    """Writes a backbone in MusicGen's release format, loadable by `load_pretrained(directory)`."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cfg_yaml = OmegaConf.to_yaml(cfg)  # a YAML string: a pickled DictConfig breaks weights_only loading
    for name, module in ((LM_FILE, backbone.lm), (CODEC_FILE, backbone.codec)):
        tmp = out / f".{name}.tmp"
        torch.save({"xp.cfg": cfg_yaml, "best_state": module.state_dict()}, tmp)
        os.replace(tmp, out / name)
    return out


# What a release whose `xp.cfg` is a pickled DictConfig holds besides tensors (audiocraft PR #534):
# omegaconf's containers, nodes and metadata, and the builtins they refer to. Allowed for torch.load's
# weights_only=True (its default since torch 2.6), so such files load without ever unpickling
# arbitrary code (weights_only=False).
CONFIG_GLOBALS = [DictConfig, ListConfig, ContainerMetadata, Metadata, AnyNode, StringNode, IntegerNode,
                  FloatNode, BooleanNode, typing.Any, dict, list, int, float, str, bool,
                  collections.defaultdict]


# Settings audiocraft's own loader deletes from a release's xp.cfg before building (load_lm_model).
DROPPED_SETTINGS = ("conditioners.self_wav.chroma_stem.cache_path", "conditioners.args.merge_text_conditions_p",
                    "conditioners.args.drop_desc_p")


def _drop(cfg: DictConfig, setting: str) -> None:
    parent, _, leaf = setting.rpartition(".")
    node = OmegaConf.select(cfg, parent)
    if isinstance(node, DictConfig) and leaf in node:
        OmegaConf.set_struct(node, False)
        node.pop(leaf)


def load_lm(name: str) -> LMModel:
    """The LM of a hub id or release directory, as audiocraft's `loaders.load_lm_model` builds it on the
    CPU (float32; on a GPU it would store the transformer in float16: models/precision.py sets the
    layout after), except for its T5 text conditioners: VidMusician's visual tokens take the text
    prompt's place, so only their output projection (the semantic projector's initialisation) is
    built, and the T5 itself (110 M parameters for t5-base, a hub download) is never loaded."""
    with torch.serialization.safe_globals(CONFIG_GLOBALS):
        pkg = loaders.load_lm_model_ckpt(name)
    cfg = OmegaConf.create(pkg["xp.cfg"])
    OmegaConf.set_struct(cfg, False)
    cfg.device, cfg.dtype = "cpu", "float32"
    for setting in DROPPED_SETTINGS:
        _drop(cfg, setting)
    state = pkg["best_state"]
    cfg, text_keys = without_text_encoders(cfg, state)
    lm = builders.get_lm_model(cfg)
    for key in text_keys:
        conditioners = lm.condition_provider.conditioners
        conditioners[key] = TextProjection(key, conditioners[key].output_proj)
    state = {k: v for k, v in state.items()
             if not any(k.startswith(f"condition_provider.conditioners.{t}.t5.") for t in text_keys)}
    lm.load_state_dict(state)
    lm.cfg = cfg
    return lm.eval()


def load_pretrained(name: str, device: str = "cpu") -> Backbone:
    """Loads a hub id or a release-format directory on the CPU, then moves it to `device`."""
    lm = load_lm(name)
    with torch.serialization.safe_globals(CONFIG_GLOBALS):
        codec = loaders.load_compression_model(name, device="cpu")
    return Backbone(lm=lm.to(device).eval(), codec=codec.to(device).eval())


def load_codec(mcfg: MusicGenConfig, device: str = "cpu", seed: int = 0) -> CompressionModel:
    """The backbone's compression model alone (for the feature stage: no LM in memory)."""
    if mcfg.pretrained:
        with torch.serialization.safe_globals(CONFIG_GLOBALS):
            codec = loaders.load_compression_model(model_path(mcfg.pretrained), device="cpu")
        return codec.to(device).eval()
    return build_random_codec(mcfg, device, seed)[0]


def load_backbone(mcfg: MusicGenConfig, device: str = "cpu", seed: int = 0) -> Backbone:
    if mcfg.pretrained:
        return load_pretrained(model_path(mcfg.pretrained), device)
    return build_random(mcfg, device, seed)[0]


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()
