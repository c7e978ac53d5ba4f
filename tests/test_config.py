"""Config: defaults <- preset <- file/URI <- overrides; errors name the key; dumps round-trip."""
from __future__ import annotations

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from vidmusician.config import ConfigError, config_hash, dump_config, help_text, load_config
from vidmusician.config.loader import available_presets
from vidmusician.config.schema import Config


def test_merge_order_defaults_preset_file_overrides(tmp_path):
    assert Config().world.num_videos == 8
    debug = load_config(["preset=debug"])
    assert debug.world.num_videos == 6  # preset beats default
    f = tmp_path / "run.yaml"
    f.write_text("world:\n  num_videos: 11\n  fps: 30\n")
    from_file = load_config(["preset=debug", f"config={f}"])
    assert from_file.world.num_videos == 11 and from_file.world.fps == 30  # file beats preset
    cli = load_config(["preset=debug", f"config={f}", "world.num_videos=2"])
    assert cli.world.num_videos == 2 and cli.world.fps == 30  # command line beats file
    assert cli.preset == "debug" and isinstance(cli, Config)


def test_presets_load_and_differ():
    assert {"debug", "toy", "small", "medium"} <= set(available_presets())
    small, medium = load_config(["preset=small"]), load_config(["preset=medium"])
    assert small.model.musicgen.pretrained == "facebook/musicgen-small"
    assert small.model.clip.pretrained == "openai/clip-vit-base-patch32"
    assert medium.model.clip.patch_size == 14 and medium.model.musicgen.lm.dim == 1536


@pytest.mark.parametrize("argv, key", [
    (["model.rhythm.nope=1"], "model.rhythm.nope"),
    (["world.num_videos=abc"], "world.num_videos"),
    (["generation.cfg_coef=[1,2]"], "generation.cfg_coef"),
    (["nonsense=1"], "nonsense"),
])
def test_bad_keys_and_types_name_the_key(argv, key):
    with pytest.raises(ConfigError) as err:
        load_config(argv)
    assert key in str(err.value)


def test_bad_preset_and_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="preset='nope'"):
        load_config(["preset=nope"])
    f = tmp_path / "bad.yaml"
    f.write_text("storage:\n  max_attempts: many\n")
    with pytest.raises(ConfigError, match="storage.max_attempts"):
        load_config([f"config={f}"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(["world.fps"])


def test_config_from_s3(s3_moto_env):
    from vidmusician.storage import Storage
    uri = f"s3://{s3_moto_env.new_bucket()}/configs/run.yaml"
    Storage().write_text(uri, "world:\n  num_videos: 13\n")  # endpoint and keys from the AWS env chain
    assert load_config([f"config={uri}"]).world.num_videos == 13


def test_dump_round_trips_and_hash_is_stable(tmp_path):
    cfg = load_config(["world.seed=7"])
    uri = dump_config(cfg, str(tmp_path / "run"))
    back = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), OmegaConf.load(uri)))
    assert back == cfg
    assert config_hash(cfg.model) == config_hash(load_config([]).model)
    assert config_hash(cfg.world) != config_hash(load_config([]).world)


def test_help_lists_every_key_with_defaults():
    text = help_text("make_world", "writes a world")
    assert "world.num_videos=8" in text and "generation.cfg_coef=3.0" in text and "preset" in text
    out = subprocess.run([sys.executable, "jobs/make_world.py", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "world.num_videos" in out.stdout


def test_one_validation_step_reports_every_problem_by_key():
    with pytest.raises(ConfigError) as err:
        load_config(["train.stage=3", "generation.window_s=4", "generation.context_s=5",
                     "model.rhythm.reduction=median", "extract.separation=demucs", "ray.malloc_mmap_threshold=0",
                     "train.stage1.loss.guidance=0.5", "train.stage2.loss.start_weight=0",
                     "train.stage1.loss.input_noise=1"])
    message = str(err.value)
    for key in ("train.stage='3'", "train.stage1.loss.guidance=0.5", "train.stage2.loss: start_frames=10",
                "train.stage1.loss.input_noise=1",
                "generation.window_s (4.0)", "model.rhythm.reduction='median'",
                "extract.separation=demucs needs extract.separation_model", "ray.malloc_mmap_threshold=0"):
        assert key in message
    load_config(["extract.separation=demucs", "extract.separation_model=/models/htdemucs.th"])  # complete: fine
    load_config(["ray.malloc_mmap_threshold=null"])  # glibc's own threshold: fine


def test_every_job_writes_its_resolved_config_before_it_runs(tmp_path, capsys):
    from vidmusician.cli import EXIT_BAD_CONFIG, run_job
    seen = []
    argv = [f"output={tmp_path / 'out'}", "train.batch_size=3"]
    assert run_job("probe", "", "", lambda cfg: seen.append((tmp_path / "out" / "config.yaml").exists()) or 0,
                   argv=argv) == 0
    assert seen == [True]
    assert load_config([f"config={tmp_path / 'out' / 'config.yaml'}"]) == load_config(argv)
    bad = [f"output={tmp_path / 'bad'}", "train.stage=x"]
    assert run_job("probe", "", "", lambda cfg: 0, argv=bad) == EXIT_BAD_CONFIG
    assert "train.stage='x'" in capsys.readouterr().err and not (tmp_path / "bad").exists()
