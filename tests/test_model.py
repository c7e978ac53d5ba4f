"""The VidMusician model on the debug preset: stages, freezing, streaming exactness, checkpoints."""
from __future__ import annotations

import torch

from model_fixtures import codes_for, conditions, fresh_model, perturb_adapters
from vidmusician.config.schema import LossConfig
from vidmusician.models.vidmusician import is_adapter_param

FRAMES = 40


def logits_of(model, codes, cond):
    with torch.no_grad():
        out = model(codes, cond)
    return out.logits.nan_to_num(0.0), out.mask


def test_stage2_starts_where_stage1_ended():
    model = fresh_model()
    perturb_adapters(model, "semantic.")  # a "trained" stage 1
    codes, cond = codes_for(model, 2, FRAMES), conditions(model, 2, FRAMES)
    model.set_stage(1)
    stage1, _ = logits_of(model, codes, cond)
    model.set_stage(2)
    stage2, _ = logits_of(model, codes, cond)
    assert (stage1 - stage2).abs().max().item() < 1e-6
    # The branch is live: once its zero-initialised input layer moves, the logits move.
    perturb_adapters(model, "rhythm.input_proj")
    moved, _ = logits_of(model, codes, cond)
    assert (moved - stage2).abs().max().item() > 1e-3


def test_optimizer_step_changes_only_adapters():
    model = fresh_model("model.cond_dropout=0.0")  # no dropped rows: every adapter gets a gradient
    trainable = model.set_stage(2)
    assert trainable and all(is_adapter_param(n) for n in trainable)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    codes, cond = codes_for(model, 2, FRAMES), conditions(model, 2, FRAMES)
    model.loss(codes, cond).loss.backward()
    opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    base = [n for n, _ in model.named_parameters() if not is_adapter_param(n)]
    assert base, "the backbone has parameters"
    assert not changed & set(base), f"base parameters changed: {sorted(changed & set(base))[:5]}"
    assert changed == set(trainable)
    # Buffers of the frozen backbone (codebooks, norms) are untouched too.
    assert model.lm.training is False and model.codec.training is False


def test_stage_filter_marks_exactly_the_stage():
    model = fresh_model()
    s1 = set(model.set_stage(1))
    assert s1 and not any(n.startswith("rhythm.") for n in s1)
    assert any(".lora_" in n for n in s1) and any(n.startswith("semantic.manager") for n in s1)
    s2 = set(model.set_stage(2))
    assert {n for n in s2 if n.startswith("rhythm.")} and s1 <= s2
    frozen_semantic = fresh_model("model.stage2_trains_semantic=false")
    assert all(n.startswith("rhythm.") for n in frozen_semantic.set_stage(2))


def streaming_logits(model, codes, cond, prompt_steps: int):
    """Feeds the teacher-forced pattern sequence through the streaming LM: `prompt_steps` steps in
    one call, then one step per call, as generation does. Returns logits [B, K, T, card]."""
    lm = model.lm
    frames = codes.shape[-1]
    pattern = lm.pattern_provider.get_pattern(frames)
    sequence, _, _ = pattern.build_pattern_sequence(codes, lm.special_token_id, keep_only_valid_steps=True)
    tensors = model.condition_tensors(cond)
    rhythm = model.rhythm_input(cond, model.sequence_steps(frames))
    chunks = [(0, prompt_steps)] + [(s, s + 1) for s in range(prompt_steps, sequence.shape[-1])]
    outs = []
    with torch.no_grad(), lm.streaming(), model.injector.using(rhythm), model.cross_mask.using(tensors):
        for a, b in chunks:
            outs.append(lm(sequence[..., a:b], [], condition_tensors=tensors))
    logits = torch.cat(outs, dim=2).permute(0, 3, 1, 2)  # [B, card, K, S]
    logits, _, _ = pattern.revert_pattern_logits(logits, float("nan"), keep_only_valid_steps=True)
    return logits.permute(0, 2, 3, 1).nan_to_num(0.0)


def test_streaming_generation_matches_teacher_forcing():
    model = fresh_model()
    model.set_stage(2)
    perturb_adapters(model, "rhythm.")
    perturb_adapters(model, "semantic.", seed=3)
    model.eval()
    codes, cond = codes_for(model, 2, FRAMES), conditions(model, 2, FRAMES)
    forced, mask = logits_of(model, codes, cond)
    streamed = streaming_logits(model, codes, cond, prompt_steps=7)
    assert (forced - streamed)[mask].abs().max().item() < 1e-4
    # Negative control: features one step late change the logits, so the check above can fail.
    late = conditions(model, 2, FRAMES)
    late.rhythm = torch.roll(cond.rhythm, shifts=1, dims=1)
    shifted = streaming_logits(model, codes, late, prompt_steps=7)
    assert (forced - shifted)[mask].abs().max().item() > 1e-3


def test_padded_tokens_are_masked_out():
    model = fresh_model()
    perturb_adapters(model, "semantic.")
    codes, cond = codes_for(model, 2, FRAMES), conditions(model, 2, FRAMES, pad=2)
    ref, _ = logits_of(model, codes, cond)
    cond.cls[0, -2:] = 100.0  # garbage under the padding
    cond.cls_steps[0, -2:] = 55.0
    again, _ = logits_of(model, codes, cond)
    assert (ref - again).abs().max().item() < 1e-6
    cond.cls[0, 0] += 1.0  # a real token does matter
    real, _ = logits_of(model, codes, cond)
    assert (real - ref).abs().max().item() > 1e-4


def test_text_prompt_adds_cross_attention_tokens():
    model = fresh_model()
    cond = conditions(model, 2, FRAMES)
    plain = model.condition_tensors(cond)["description"]
    with_text = model.condition_tensors(cond, text=["calm piano", "drums"])["description"]
    assert with_text[0].shape[1] > plain[0].shape[1]
    assert torch.equal(with_text[0][:, :plain[0].shape[1]], plain[0])
    dropped = model.condition_tensors(cond.null(), text=["calm piano", "drums"])["description"]
    assert dropped[0].abs().max().item() == 0.0 and dropped[1].sum().item() == 0


def test_cond_dropout_drops_in_training_only():
    model = fresh_model("model.cond_dropout=1.0")
    perturb_adapters(model, "semantic.")
    codes, cond = codes_for(model, 2, FRAMES), conditions(model, 2, FRAMES)
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        dropped = model(codes, cond).logits.nan_to_num(0.0)
        null = model.eval()(codes, cond.null()).logits.nan_to_num(0.0)
    conditional, _ = logits_of(model, codes, cond)
    assert (dropped - null).abs().max().item() < 1e-6
    assert (conditional - null).abs().max().item() > 1e-4


def test_loss_is_the_mean_cross_entropy_over_valid_unpadded_tokens_per_codebook():
    """The masked-sum loss equals cross-entropy over exactly the positions that count (the delay
    pattern's valid steps, minus padded frames), and its gradients stay finite although the
    positions left out hold NaN logits."""
    model = fresh_model("model.cond_dropout=0.0")
    model.set_stage(2)
    perturb_adapters(model, "rhythm.", seed=3)
    codes, cond = codes_for(model, 2, FRAMES), conditions(model, 2, FRAMES)
    frame_mask = torch.ones(2, FRAMES)
    frame_mask[1, FRAMES // 2:] = 0  # the second row is half padding
    out = model.loss(codes, cond, frame_mask)
    logits, valid = logits_of(model, codes, cond)
    valid = valid & frame_mask.bool().unsqueeze(1)
    expected = torch.stack([torch.nn.functional.cross_entropy(logits[:, k][valid[:, k]], codes[:, k][valid[:, k]])
                            for k in range(codes.shape[1])])
    assert torch.allclose(out.per_codebook, expected, atol=1e-5)
    assert torch.allclose(out.loss, expected.mean(), atol=1e-5)
    # Padding changes the loss (it is excluded, not counted as zero loss).
    assert not torch.allclose(out.loss, model.loss(codes, cond).loss, atol=1e-4)
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_the_training_objective_reads_the_lm_under_guidance_with_the_window_start_weighted():
    """train.stageN.loss: the cross-entropy of null + g * (conditional - null), each of the first frames counted
    start_weight times; the null branch (the frozen backbone, no condition) gets no gradient, so only
    the adapters learn, and g = 1 with no start weight is the plain loss. Input noise replaces some of
    the LM's input tokens in training only (the targets stay): validation reads the clean inputs."""
    model = fresh_model("model.cond_dropout=0.0")
    model.set_stage(2)
    perturb_adapters(model, "rhythm.", seed=4)
    perturb_adapters(model, "semantic.", seed=5)
    codes, cond = codes_for(model, 2, FRAMES), conditions(model, 2, FRAMES)
    objective = LossConfig(guidance=3.0, start_frames=5, start_weight=4.0, input_noise=0.3)
    model.eval()
    out = model.loss(codes, cond, objective=objective)
    conditional, valid = logits_of(model, codes, cond)
    null, _ = logits_of(model, codes, cond.null())
    guided = null + 3.0 * (conditional - null)
    frame = torch.arange(FRAMES).view(1, 1, -1).expand_as(codes)
    expected = []
    for k in range(codes.shape[1]):
        v = valid[:, k]
        ce = torch.nn.functional.cross_entropy(guided[:, k][v], codes[:, k][v], reduction="none")
        w = torch.where(frame[:, k][v] < 5, 4.0, 1.0)
        expected.append((ce * w).sum() / w.sum())
    assert torch.allclose(out.per_codebook, torch.stack(expected), atol=1e-4)
    plain = model.loss(codes, cond).loss
    assert torch.allclose(model.loss(codes, cond, objective=LossConfig(1.0, 0, 1.0, 0.0)).loss, plain, atol=1e-6)
    assert not torch.allclose(out.loss, plain, atol=1e-3)
    # In training the inputs are noisy: the same objective reads other logits, and without noise the same.
    model.train()
    torch.manual_seed(0)
    noisy = model.loss(codes, cond, objective=objective)
    assert not torch.allclose(noisy.loss, out.loss, atol=1e-3)
    clean = model.loss(codes, cond, objective=LossConfig(3.0, 5, 4.0, 0.0))
    assert torch.allclose(clean.loss, out.loss, atol=1e-5)
    # Gradients reach the adapters only (the null branch is frozen and computed without gradient).
    noisy.loss.backward()
    assert all(p.grad is None for n, p in model.named_parameters() if not is_adapter_param(n))
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
