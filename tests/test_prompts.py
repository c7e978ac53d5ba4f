"""Text prompts beside the video: MusicGen's own text path (T5 tokenizer -> T5 without the LoRA ->
the backbone's output_proj) on a backbone whose condition is T5 text, with a tiny T5 and tokenizer
saved in the formats t5-base ships (config.json, model.safetensors, tokenizer.json)."""
from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, T5EncoderModel

from model_fixtures import conditions, debug_config, perturb_adapters
from vidmusician.config.loader import ConfigError
from vidmusician.config.validate import MAX_PROMPT_CHARS
from vidmusician.models.backbone import build_random
from vidmusician.models.builders import build_adapted, build_t5
from vidmusician.models.generation import VideoFeatures, soundtrack
from vidmusician.models.prompts import PromptsUnsupported
from vidmusician.models.text_projection import TextProjection

FRAMES = 40
WORDS = ("calm", "piano", "dark", "drums", "bright", "strings", "slow", "fast")


def save_t5_with_tokenizer(folder, cfg) -> None:
    """A debug-size T5 and a T5-style unigram tokenizer (sentencepiece spaces, </s> appended)."""
    build_t5(cfg.model.t5, seed=6).save_pretrained(folder)
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(f"\u2581{w}", -1.0) for w in WORDS]
    assert len(vocab) <= cfg.model.t5.vocab_size
    tok = Tokenizer(models.Unigram(vocab, unk_id=2))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(folder)


def text_model(cfg):
    """Adapters on a backbone whose cross-attention condition is T5 text, as MusicGen's release is
    loaded (models/text_projection.py)."""
    backbone, _ = build_random(cfg.model.musicgen, seed=3)
    conditioners = backbone.lm.condition_provider.conditioners
    torch.manual_seed(4)
    conditioners["description"] = TextProjection(
        "description", torch.nn.Linear(cfg.model.t5.d_model, backbone.lm.dim))
    return build_adapted(backbone, cfg.model, seed=0).eval()


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("t5")
    save_t5_with_tokenizer(folder, debug_config())
    return folder


def test_a_prompt_is_read_as_musicgen_reads_text(t5_dir):
    model = text_model(debug_config(f"model.t5.pretrained={t5_dir}"))
    perturb_adapters(model, "semantic.")  # a trained LoRA: the prompt must not go through it
    cond = conditions(model, 2, FRAMES)
    with torch.no_grad():
        video, video_mask = model.condition_tensors(cond)["description"]
        tokens, mask = model.condition_tensors(cond, text=["calm piano", None])["description"]
        n = video.shape[1]
        assert torch.equal(tokens[:, :n], video) and torch.equal(mask[:, :n], video_mask)
        # MusicGen's T5Conditioner: tokenizer -> t5-base -> output_proj, padding zeroed
        ids = model.prompts.tokenizer(["calm piano"], return_tensors="pt")["input_ids"]
        assert ids[0].tolist() == [3 + WORDS.index("calm"), 3 + WORDS.index("piano"), 1]  # ... </s>
        base = T5EncoderModel.from_pretrained(t5_dir).eval()
        proj = model.lm.condition_provider.conditioners["description"].output_proj
        expected = proj(base(input_ids=ids).last_hidden_state)[0]
        assert mask[0, n:].tolist() == [1, 1, 1]
        assert torch.allclose(tokens[0, n:], expected, atol=1e-6)
        assert mask[1, n:].sum() == 0 and tokens[1, n:].abs().max() == 0  # no prompt: nothing read
        # the null branch drops the prompt with the video
        null = model.condition_tensors(cond.null(), text=["calm piano", "dark drums"])["description"]
        assert null[0].abs().max() == 0 and null[1].sum() == 0
        other, _ = model.condition_tensors(cond, text=["dark drums", None])["description"]
        assert not torch.allclose(other[0, n:], tokens[0, n:])


def test_prompts_change_the_music_and_the_same_prompt_makes_the_same(t5_dir):
    cfg = debug_config(f"model.t5.pretrained={t5_dir}", "generation.window_s=0.6", "generation.context_s=0.2")
    model = text_model(cfg)
    perturb_adapters(model, "semantic.")
    cond = conditions(model, 1, FRAMES)
    feats = [VideoFeatures(cls=cond.cls[0], rhythm=cond.rhythm[0], duration_s=1.0)] * 3
    prompts = ["calm piano strings", "fast dark drums", "calm piano strings"]
    waves = soundtrack(model, feats, cfg.generation, seeds=[7, 7, 7], prompts=prompts)
    plain = soundtrack(model, feats[:1], cfg.generation, seeds=[7])[0]
    assert torch.equal(waves[0], waves[2])
    assert not torch.equal(waves[0], waves[1]) and not torch.equal(waves[0], plain)
    # without adapters (the video ignored), a prompt still steers the frozen backbone: text-to-music
    alone = soundtrack(model, feats[:1], cfg.generation, seeds=[7], conditioned=False, prompts=prompts[:1])
    bare = soundtrack(model, feats[:1], cfg.generation, seeds=[7], conditioned=False)
    assert not torch.equal(alone[0], bare[0]) and not torch.equal(alone[0], waves[0])


def test_a_model_that_cannot_read_prompts_says_why(tmp_path):
    cfg = debug_config()
    model = text_model(cfg)  # a T5 built from config has no tokenizer
    cond = conditions(model, 1, FRAMES)
    with pytest.raises(PromptsUnsupported, match="model.t5.pretrained"):
        model.condition_tensors(cond, text=["calm piano"])
    model.condition_tensors(cond, text=[None])  # no prompt, nothing to read
    build_t5(cfg.model.t5, seed=6).save_pretrained(tmp_path)  # weights without a tokenizer
    model = text_model(debug_config(f"model.t5.pretrained={tmp_path}"))
    with pytest.raises(PromptsUnsupported, match="no T5 tokenizer"):
        model.check_prompts()


def test_the_configured_prompt_is_checked():
    assert debug_config("generation.prompt='calm piano'").generation.prompt == "calm piano"
    for bad, needle in (("''", "not blank"), ("'" + "a" * (MAX_PROMPT_CHARS + 1) + "'", "at most")):
        with pytest.raises(ConfigError, match=f"generation.prompt=.*{needle}"):
            debug_config(f"generation.prompt={bad}")
