"""The Ray Train trainer on local Ray (2 CPU workers with fractional CPUs, debug preset): a two-stage
run with checkpoints in a real S3 server, a worker killed mid-run, a resumed run."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from model_fixtures import TRAIN_ARGS, codes_for, conditions, debug_config, fresh_model, perturb_adapters
from vidmusician.config.schema import StageSchedule
from vidmusician.extract.pipeline import run_extract
from vidmusician.models.builders import build_model
from vidmusician.models.checkpoint import load_adapters, read_adapters
from vidmusician.storage import Storage, join_uri
from vidmusician.synth.world import write_world
from vidmusician.models.conditions import VisualConditions
from vidmusician.train.batch import TRAIN_COLUMNS, TrainBatch
from vidmusician.train.feature_data import dataset_videos, keep_split, read_windows, validation_videos
from vidmusician.train.loop import StageTrainer, lr_factor
from vidmusician.train.plain import train_stage_plain
from vidmusician.train.run import run_training



@pytest.fixture(scope="module")
def features(ray_local, tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    world = str(root / "world")
    write_world(debug_config("world.num_videos=12"), world)
    out = str(root / "features")
    result = run_extract(debug_config(f"input={world}/videos", f"output={out}"))
    assert "ok 12" in result.summary
    return out


def scalars(uri: str, storage: Storage, tag: str) -> list[tuple[int, float]]:
    """A tag's (step, value) series, read by TensorBoard's own reader from a copy of the event files."""
    with tempfile.TemporaryDirectory() as tmp:
        for u in storage.list(uri):
            Path(tmp, u.rsplit("/", 1)[-1]).write_bytes(storage.read_bytes(u))
        acc = EventAccumulator(tmp, purge_orphaned_data=False)
        acc.Reload()
        return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_split_is_by_video_and_never_empty():
    ids = [f"v{i:03d}" for i in range(40)]
    val = validation_videos(ids, 0.2, seed=0)
    assert len(val) == 8 and val == validation_videos(list(reversed(ids)), 0.2, seed=0)
    assert val != validation_videos(ids, 0.2, seed=1)
    assert len(validation_videos(ids[:3], 0.01, 0)) == 1 and not validation_videos(ids[:1], 0.5, 0)
    batch = {"video_id": np.array(["v000", "v001", "v000", "v002"], dtype=object), "x": np.arange(4)}
    val_ids, videos = frozenset({"v000"}), frozenset({"v000", "v001", "v002"})
    assert keep_split(batch, val_ids, "val", videos)["x"].tolist() == [0, 2]
    assert keep_split(batch, val_ids, "train", videos)["x"].tolist() == [1, 3]
    # A video without an ok outcome (it failed after some windows were written) is on neither side.
    assert keep_split(batch, val_ids, "train", frozenset({"v000", "v001"}))["x"].tolist() == [1]


def test_schedule_warms_up_then_decays_to_the_floor():
    s = StageSchedule(steps=10, lr=1.0, warmup_steps=2)
    factors = [lr_factor(i, s, 0.1) for i in range(11)]
    assert factors[0] == 0.5 and factors[1] == 1.0 and factors[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[2:], factors[3:])) and factors[10] == pytest.approx(0.1)


def test_plain_loop_learns_from_the_same_dataset(features):
    """The benchmark's baseline: the same step logic in one process, on the windows read back whole."""
    ids, columns = read_windows(features, Storage(), TRAIN_COLUMNS)
    assert len(ids) == 12 and columns["codes"].shape == (12, 4, 200) and columns["cls"].shape == (12, 4, 32)
    cfg = debug_config("train.batch_size=4", "train.stage2.steps=15", "train.stage2.lr=1e-2", "train.val_every=5")
    val = validation_videos(ids, cfg.train.val_fraction, cfg.seed)
    is_val = np.array([v in val for v in ids])
    model = build_model(cfg.model)
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith(("semantic.", "rhythm."))}
    rows = np.arange(len(ids))
    history = train_stage_plain(model, 2, cfg.train, columns, rows[~is_val], rows[is_val], log=lambda *_: None)
    assert np.mean(history["loss"][-3:]) < np.mean(history["loss"][:3])
    assert [s for s, _ in history["val"]] == [5, 10, 15]
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in frozen.items())  # the backbone never moved


def test_two_stage_run_checkpoints_to_s3(features, ray_local):
    s3 = ray_local
    bucket = s3.new_bucket("train")
    out = f"s3://{bucket}/run"
    cfg = debug_config(f"train.features={features}", f"output={out}", f"train.storage_path=s3://{bucket}/ckpt",
                       "train.stage=both", *TRAIN_ARGS)
    result = run_training(cfg)
    storage = Storage(cfg.storage)
    n_videos = len(dataset_videos(features, storage))
    assert result.videos[0] + result.videos[1] == n_videos and result.videos[1] >= 1
    for stage in result.stages:
        assert stage.metrics["step"] == 9 and stage.metrics["restarts"] == 0
        assert stage.metrics["tokens_per_s"] > 0 and np.isfinite(stage.metrics["val_loss"])
        # Ray kept the last two of the three checkpoints, in the S3 bucket.
        keys = storage.list(f"s3://{bucket}/ckpt/{stage.run_name}")
        dirs = {k.split("/")[5] for k in keys if len(k.split("/")) > 6 and k.split("/")[5].startswith("checkpoint_")}
        assert len(dirs) == 2, dirs
        assert stage.checkpoint.startswith(f"{bucket}/ckpt/{stage.run_name}/checkpoint_")
        assert storage.exists(stage.paths.final) and storage.exists(stage.paths.best)
        loss = [v for _, v in scalars(join_uri(out, "tensorboard", f"stage{stage.stage}"), storage, "train/loss")]
        assert len(loss) == 9 and np.mean(loss[-3:]) < np.mean(loss[:3])  # the loss falls
    assert "stage 1: 9 steps" in result.summary() and "stage 2: 9 steps" in result.summary()
    # The export loads onto a fresh model, as stage 2, and differs from stage 1's adapters.
    state, _, stage = read_adapters(result.adapters, cfg.storage)
    model = load_adapters(build_model(cfg.model), result.adapters, cfg.storage)
    assert stage == 2 and model.stage == 2
    stage1, _, _ = read_adapters(result.stages[0].paths.final, cfg.storage)
    assert any(not torch.equal(state[k], stage1[k]) for k in state if k.startswith("semantic."))
    # Stage 2 trained the rhythm path: its zero-initialised input layer O has moved off zero.
    zero_init = [k for k in state if k.startswith("rhythm.input_proj.")]
    assert zero_init and all(torch.count_nonzero(state[k]) for k in zero_init), zero_init


def test_killed_worker_resumes_and_a_rerun_continues(features, tmp_path):
    out = str(tmp_path / "run")
    args = (f"train.features={features}", f"output={out}", "train.stage=1", "train.run_name=faulty", *TRAIN_ARGS)
    first = run_training(debug_config(*args, "train.stage1.steps=6", "train.fail_at_step=5"))
    (stage,) = first.stages
    assert Storage().exists(stage.paths.fault_marker)  # the fault did fire
    assert stage.metrics["step"] == 6 and stage.metrics["restarts"] == 1  # same step count, one restore
    second = run_training(debug_config(*args))  # the same run name, now 9 steps: it continues
    assert second.stages[0].metrics["step"] == 9 and second.stages[0].metrics["restarts"] == 2
    steps = [s for s, _ in scalars(join_uri(out, "tensorboard", "stage1"), Storage(), "train/loss")]
    # Events reach storage with each checkpoint: steps 1-3 from the first worker group, 4-6 from the
    # group restored from step 3's checkpoint, 7-9 from the rerun. A restart from scratch would log
    # steps 1-3 twice; a rerun that restarted, 1-6 twice.
    assert sorted(steps) == list(range(1, 10))


def test_accumulated_micro_batches_step_like_one_batch_of_them_all():
    """train.grad_accum_steps: two micro-batches of 2 windows (equal token counts) move the adapters as
    one batch of all 4 does; summing the micro-batch losses without the 1/n weight (planted) doubles the
    step's gradient and fails this."""
    tcfg = debug_config("model.cond_dropout=0", "train.grad_clip=1e9", "train.stage1.loss.input_noise=0").train
    models = [fresh_model("model.cond_dropout=0") for _ in range(2)]
    for m in models:
        perturb_adapters(m, "semantic.", seed=3)  # LoRA's B starts at zero: give every tensor a gradient
    frames = 20
    codes, cond = codes_for(models[0], 4, frames), conditions(models[0], 4, frames, pad=0)
    whole = TrainBatch(codes, cond, torch.ones(4, frames))
    parts = [TrainBatch(codes[i:i + 2], VisualConditions(*(t[i:i + 2] for t in (cond.cls, cond.cls_steps, cond.cls_mask,
                                                                              cond.rhythm, cond.present))),
                        torch.ones(2, frames)) for i in (0, 2)]
    one, accumulated = StageTrainer(models[0], 1, tcfg), StageTrainer(models[1], 1, tcfg)
    m_one, m_acc = one.train_step(whole), accumulated.train_step(parts)
    assert m_one["loss"] == pytest.approx(m_acc["loss"], rel=1e-5)
    # The gradients themselves (Adam's first step is nearly blind to their scale), then the weights.
    grads = [(p.grad, q.grad) for p, q in zip(one.params, accumulated.params)]
    assert all(g is not None and g.abs().sum() > 0 for g, _ in grads)
    assert all(torch.allclose(g, h, rtol=1e-4, atol=1e-7) for g, h in grads)
    a, b = models[0].adapter_state_dict(), models[1].adapter_state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
