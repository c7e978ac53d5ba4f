"""The one place that maps configuration to model objects (as audiocraft's builders.py does)."""
from __future__ import annotations

import torch
from peft import LoraConfig as PeftLoraConfig
from transformers import CLIPVisionConfig, CLIPVisionModel, T5EncoderModel
from transformers import T5Config as HFT5Config

from vidmusician.config.schema import ClipConfig, ModelConfig, Precision, T5Config
from vidmusician.embedded import is_directory
from vidmusician.models.backbone import Backbone, build_random, load_backbone
from vidmusician.models.clip_encoder import ClipEncoder
from vidmusician.models.precision import apply_lm_layout
from vidmusician.models.prompts import PromptEncoder
from vidmusician.models.rhythm import RhythmAdapter, num_rhythm_blocks, rhythm_input_dim
from vidmusician.models.semantic import SemanticAdapter
from vidmusician.models.vidmusician import VidMusician


def build_clip(ccfg: ClipConfig, device: str = "cpu", seed: int = 0) -> CLIPVisionModel:
    if ccfg.pretrained:
        model = CLIPVisionModel.from_pretrained(ccfg.pretrained, local_files_only=is_directory(ccfg.pretrained))
    else:
        torch.manual_seed(seed)
        model = CLIPVisionModel(CLIPVisionConfig(
            hidden_size=ccfg.hidden_size, num_hidden_layers=ccfg.num_layers,
            num_attention_heads=ccfg.num_heads, intermediate_size=ccfg.intermediate_size,
            image_size=ccfg.image_size, patch_size=ccfg.patch_size))
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(device).eval()


def build_t5(tcfg: T5Config, seed: int = 0) -> T5EncoderModel:
    if tcfg.pretrained:
        return T5EncoderModel.from_pretrained(tcfg.pretrained, local_files_only=is_directory(tcfg.pretrained))
    torch.manual_seed(seed)
    return T5EncoderModel(HFT5Config(
        d_model=tcfg.d_model, d_kv=tcfg.d_kv, d_ff=tcfg.d_ff, num_layers=tcfg.num_layers,
        num_heads=tcfg.num_heads, vocab_size=tcfg.vocab_size, dropout_rate=0.0))


def clip_dim(ccfg: ClipConfig) -> int:
    if ccfg.pretrained:  # reads config.json only, no weights
        return int(CLIPVisionConfig.from_pretrained(ccfg.pretrained,
                                                    local_files_only=is_directory(ccfg.pretrained)).hidden_size)
    return ccfg.hidden_size


def build_clip_encoder(ccfg: ClipConfig, device: str = "cpu", seed: int = 0,
                       precision: Precision = Precision.fp32) -> ClipEncoder:
    return ClipEncoder(build_clip(ccfg, device, seed), precision).to(device)


def build_adapted(backbone: Backbone, mcfg: ModelConfig, seed: int = 0,
                  from_arch: bool = False, recorded: ModelConfig | None = None) -> VidMusician:
    """Adapters on a backbone. from_arch: take T5 and the CLIP width from the config's architecture
    fields instead of the pretrained ids (no download, for meta-device builds)."""
    lm = backbone.lm
    key = mcfg.musicgen.cross_attention_key
    conditioner = lm.condition_provider.conditioners[key] if key in lm.condition_provider.conditioners else None
    text_projector = getattr(conditioner, "output_proj", None)
    t5_cfg = type(mcfg.t5)(**{**vars(mcfg.t5), "pretrained": None}) if from_arch else mcfg.t5
    t5 = build_t5(t5_cfg, seed)
    scfg, lora = mcfg.semantic, mcfg.semantic.lora
    semantic = SemanticAdapter(mcfg.clip.hidden_size if from_arch else clip_dim(mcfg.clip), t5, lm.dim,
                               PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                              target_modules=list(lora.target_modules)),
                               scfg.time_embedding_max_period if scfg.time_embedding else None,
                               text_projector)
    torch.manual_seed(seed)
    rhythm = RhythmAdapter(rhythm_input_dim(mcfg.rhythm), lm.dim,
                           num_rhythm_blocks(len(lm.transformer.layers), mcfg.rhythm.block_fraction))
    rcfg = mcfg.rhythm
    model = VidMusician(backbone, semantic, rhythm, cross_attention_key=key, cond_dropout=mcfg.cond_dropout,
                        stage2_trains_semantic=mcfg.stage2_trains_semantic,
                        rhythm_context=(rcfg.context_before, rcfg.context_after), semantic_fps=scfg.fps,
                        config=recorded or mcfg, prompts=PromptEncoder(t5_cfg.pretrained))
    model.set_stage(1)
    return model


def build_model(mcfg: ModelConfig, device: str = "cpu", seed: int = 0,
                precision: Precision = Precision.fp32, recorded: ModelConfig | None = None) -> VidMusician:
    """Backbone (loaded or random, frozen) + adapters, in stage 1, in the precision's layout.
    recorded: the config its checkpoints record, when `mcfg` names this node's copies of the weights
    (weights.local_models) rather than the models themselves."""
    backbone = load_backbone(mcfg.musicgen, device, seed)
    model = build_adapted(backbone, mcfg, seed, recorded=recorded).to(device)
    apply_lm_layout(model.lm, precision)
    model.precision = Precision(precision)
    return model


def build_model_on_meta(mcfg: ModelConfig) -> tuple[VidMusician, torch.nn.Module]:
    """The configured architecture without any weights (for parameter counts): backbone LM, T5 and
    adapters from the arch fields of the config, and the CLIP vision tower beside it."""
    with torch.device("meta"):
        backbone, _ = build_random(mcfg.musicgen, device="meta")
        model = build_adapted(backbone, mcfg, from_arch=True)
        clip = build_clip(ClipConfig(**{**vars(mcfg.clip), "pretrained": None}), device="meta")
    return model, clip
