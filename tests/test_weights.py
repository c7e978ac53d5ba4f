"""Offline and local weights: every model loads from a directory or an s3:// location with no network
call (the network blocked for real in a subprocess, with HF_HUB_OFFLINE=1 and unset); the backbone's
T5 text conditioner is built without its T5; jobs/fetch_weights.py fills a location from the hub's
cache; a location that lacks a model stops a job at its start."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from model_fixtures import debug_config
from vidmusician.cli import EXIT_BAD_CONFIG, run_job
from vidmusician.config import load_config
from vidmusician.models.backbone import build_random
from vidmusician.models.builders import build_clip_encoder, build_t5
from vidmusician.storage import Storage
from vidmusician.weights import CODEC_FILE, LM_FILE, local_models

REPO = Path(__file__).resolve().parents[1]
HUB_IDS = {"model.musicgen.pretrained": "vidm-test/musicgen-tiny", "model.clip.pretrained": "vidm-test/clip-tiny",
           "model.t5.pretrained": "vidm-test/t5-tiny"}
TEXT_KEY = "condition_provider.conditioners.description.output_proj.weight"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

# Loaded by every Python started with this folder first on PYTHONPATH: any DNS lookup or connection
# that leaves the loopback is refused and written down.
SITECUSTOMIZE = '''
import os, socket
LOG = os.environ["NET_BLOCK_LOG"]
def outside(host):
    return not str(host).startswith(("127.", "::1", "localhost"))
def record(what):
    with open(LOG, "a") as f:
        f.write(what + "\\n")
real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
def getaddrinfo(host, *args, **kwargs):
    if host is not None and outside(host):
        record(f"dns {host}")
        raise socket.gaierror(socket.EAI_NONAME, "network blocked by the test")
    return real_getaddrinfo(host, *args, **kwargs)
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and outside(address[0]):
        record(f"connect {address}")
        raise OSError(101, "network blocked by the test")
    return real_connect(self, address)
socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect
'''

# Builds the debug model from the (resolved) config and reports what it loaded.
PROBE = '''
import json, sys, torch
from vidmusician.config import load_config
from vidmusician.models.backbone import load_codec
from vidmusician.models.builders import build_clip_encoder, build_model
from vidmusician.weights import local_models
cfg = local_models(load_config(sys.argv[1:]))
model = build_model(cfg.model)
encoder = build_clip_encoder(cfg.model.clip)
codec = load_codec(cfg.model.musicgen)
conditioner = model.lm.condition_provider.conditioners["description"]
try:
    model.lm.condition_provider.tokenize([])
    conditioner.tokenize(["a text prompt"])
    text_error = None
except RuntimeError as err:
    text_error = str(err)
print(json.dumps({
    "conditioner": type(conditioner).__name__,
    "projector_from_release": torch.equal(model.semantic.projector.weight, conditioner.output_proj.weight),
    "output_proj": conditioner.output_proj.weight.flatten()[:4].tolist(),
    "clip_first": next(encoder.parameters()).flatten()[:4].tolist(),
    "t5_first": next(model.semantic.t5.base_model.model.parameters()).flatten()[:4].tolist(),
    "codec_first": next(codec.parameters()).flatten()[:4].tolist(),
    "names": [cfg.model.musicgen.pretrained, cfg.model.clip.pretrained, cfg.model.t5.pretrained],
    "text_error": text_error}))
'''


def write_hub_repos(root: Path) -> dict[str, Path]:
    """The debug-size models in their hub repos' formats, one folder per hub id: a MusicGen release
    whose text conditioner is a T5 named `t5-base` (audiocraft's loader would fetch it), a CLIP in
    safetensors (and also as pytorch_model.bin, which a fetch must then leave), a T5 in
    pytorch_model.bin only (the fetch's fallback), each with a file no loader needs."""
    cfg = debug_config()
    t5_width = cfg.model.t5.d_model
    cfg.model.musicgen.lm.lut_bins = 1
    backbone, xp = build_random(cfg.model.musicgen, seed=3)
    backbone.lm.condition_provider.conditioners["description"].output_proj = torch.nn.Linear(
        t5_width, backbone.lm.dim)
    xp.conditioners.description = {"model": "t5", "t5": {"name": "t5-base", "finetune": False,
                                                         "word_dropout": 0.0, "normalize_text": False}}
    state = {k: v for k, v in backbone.lm.state_dict().items() if ".description.embed." not in k}
    folders = {key: root / hub_id for key, hub_id in HUB_IDS.items()}
    music = folders["model.musicgen.pretrained"]
    music.mkdir(parents=True)
    torch.save({"xp.cfg": OmegaConf.to_yaml(xp), "best_state": state}, music / LM_FILE)
    torch.save({"xp.cfg": OmegaConf.to_yaml(xp), "best_state": backbone.codec.state_dict()}, music / CODEC_FILE)
    clip = build_clip_encoder(cfg.model.clip, seed=4).model
    clip.save_pretrained(folders["model.clip.pretrained"])
    torch.save(clip.state_dict(), folders["model.clip.pretrained"] / "pytorch_model.bin")  # a second format
    t5 = build_t5(cfg.model.t5, seed=6)
    t5.config.save_pretrained(folders["model.t5.pretrained"])
    torch.save(t5.state_dict(), folders["model.t5.pretrained"] / "pytorch_model.bin")
    for folder in folders.values():
        (folder / "README.md").write_text("not needed by any loader\n")
    return folders


def run_blocked(tmp_path: Path, args: list[str], env: dict[str, str], offline: bool,
                code: str = PROBE) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Runs Python with the network blocked; returns the process and the blocked attempts."""
    site = tmp_path / "netblock"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / f"net-{offline}.log"
    full_env = {**os.environ, **env, "NET_BLOCK_LOG": str(log),
                "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    full_env.pop("HF_HUB_OFFLINE", None)
    full_env.pop("TRANSFORMERS_OFFLINE", None)
    if offline:
        full_env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run([sys.executable, "-c", code, *args], env=full_env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    return proc, (log.read_text().splitlines() if log.exists() else [])


def hub_args(location: str) -> list[str]:
    return ["preset=debug", f"weights.location={location}", *(f"{k}={v}" for k, v in HUB_IDS.items())]


def expected_weights(folders: dict[str, Path]) -> dict[str, list[float]]:
    lm = torch.load(folders["model.musicgen.pretrained"] / LM_FILE, weights_only=True)["best_state"]
    codec = torch.load(folders["model.musicgen.pretrained"] / CODEC_FILE, weights_only=True)["best_state"]
    cfg = debug_config()
    return {"output_proj": lm[TEXT_KEY].flatten()[:4].tolist(),
            "codec_first": next(iter(codec.values())).flatten()[:4].tolist(),
            "clip_first": next(build_clip_encoder(cfg.model.clip, seed=4).parameters()).flatten()[:4].tolist(),
            "t5_first": next(build_t5(cfg.model.t5, seed=6).parameters()).flatten()[:4].tolist()}


def check_probe(proc: subprocess.CompletedProcess, attempts: list[str], folders: dict[str, Path]) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert attempts == [], f"network calls: {attempts}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["conditioner"] == "TextProjection"
    assert report["projector_from_release"]
    assert "text prompts go through VidMusician.condition_tensors" in report["text_error"]
    for key, values in expected_weights(folders).items():
        assert report[key] == pytest.approx(values), key  # from the files, not from a seed
    return report


def test_the_harness_catches_a_hub_call(tmp_path):
    """Without this, a probe that makes no network call could also mean a blocker that blocks nothing."""
    code = "from transformers import CLIPVisionConfig\nCLIPVisionConfig.from_pretrained('openai/clip-vit-base-patch32')"
    proc, attempts = run_blocked(tmp_path, [], {}, offline=False, code=code)
    assert proc.returncode != 0
    assert any("huggingface.co" in a for a in attempts), attempts


@pytest.mark.parametrize("offline", [True, False], ids=["HF_HUB_OFFLINE=1", "HF_HUB_OFFLINE-unset"])
def test_every_model_loads_from_a_local_location_with_the_network_blocked(tmp_path, offline):
    location = tmp_path / "weights"
    folders = write_hub_repos(location)
    proc, attempts = run_blocked(tmp_path, hub_args(str(location)), {}, offline)
    report = check_probe(proc, attempts, folders)
    assert report["names"] == [str(folders[k]) for k in HUB_IDS]


def write_hub_cache(cache: Path, repos: dict[str, Path]) -> None:
    """The hub's own cache layout (models--org--name/refs/main, snapshots/<commit>/...), as a
    download on a machine with internet leaves it."""
    for key, folder in repos.items():
        repo = cache / ("models--" + HUB_IDS[key].replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(COMMIT)
        snapshot = repo / "snapshots" / COMMIT
        snapshot.mkdir(parents=True)
        for f in folder.iterdir():
            (snapshot / f.name).write_bytes(f.read_bytes())


def test_fetch_fills_an_s3_location_that_jobs_then_load_from_offline(tmp_path, s3_moto_env):
    s3_moto = s3_moto_env
    repos = write_hub_repos(tmp_path / "repos")
    write_hub_cache(tmp_path / "hub-cache", repos)
    bucket = s3_moto.new_bucket("weights")
    location = f"s3://{bucket}/weights"
    env = {**s3_moto.env(), "HF_HUB_CACHE": str(tmp_path / "hub-cache")}
    # device=cuda on this CPU machine: the weights are fetched on a CPU pod for GPU jobs, so the fetch job
    # makes no device check (a local-Ray job asking for a GPU would exit 2 here).
    fetch = [sys.executable, "jobs/fetch_weights.py", *hub_args(location), "device=cuda", f"output={tmp_path / 'fetch'}"]
    proc = subprocess.run(fetch, env={**os.environ, **env, "HF_HUB_OFFLINE": "1"}, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    prefix = f"{location}/"
    stored = {uri[len(prefix):] for uri in Storage().list(location)}
    assert stored == {f"{HUB_IDS['model.musicgen.pretrained']}/{LM_FILE}",
                      f"{HUB_IDS['model.musicgen.pretrained']}/{CODEC_FILE}",
                      f"{HUB_IDS['model.clip.pretrained']}/config.json",
                      f"{HUB_IDS['model.clip.pretrained']}/model.safetensors",
                      f"{HUB_IDS['model.t5.pretrained']}/config.json",
                      f"{HUB_IDS['model.t5.pretrained']}/pytorch_model.bin"}
    again = subprocess.run(fetch, env={**os.environ, **env, "HF_HUB_OFFLINE": "1"}, cwd=REPO,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count(" 0 copied") == 3, again.stdout

    cache = tmp_path / "node-cache"
    args = [*hub_args(location), f"weights.cache_dir={cache}"]
    proc, attempts = run_blocked(tmp_path, args, s3_moto.env(), offline=False)
    report = check_probe(proc, attempts, repos)
    assert all(name.startswith(str(cache)) for name in report["names"])


def test_a_job_whose_location_lacks_a_file_stops_at_its_start(tmp_path, capsys, monkeypatch):
    folders = write_hub_repos(tmp_path / "weights")
    for weights in ("model.safetensors", "pytorch_model.bin"):  # an interrupted copy: config.json only
        (folders["model.clip.pretrained"] / weights).unlink()
    monkeypatch.chdir(tmp_path)  # a relative location, as typed on a command line
    ran = []
    argv = [*hub_args("weights"), f"output={tmp_path / 'out'}"]
    rc = run_job("probe", "", "", lambda cfg: ran.append(cfg) or 0, argv=argv, loads_weights=True)
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_CONFIG and ran == []
    assert "model.clip.pretrained=vidm-test/clip-tiny" in err and "lacks weights" in err and "fetch_weights" in err
    rc = run_job("probe", "", "", lambda cfg: ran.append(cfg) or 0, argv=argv)
    assert rc == 0 and len(ran) == 1  # a job that loads no model does not check
    # Ray workers run in other directories: the job's config carries the location as an absolute path.
    assert ran[0].weights.location == str(tmp_path / "weights")


def test_a_node_copies_an_s3_folder_once_and_follows_its_changes(tmp_path, s3_moto_env):
    repos = write_hub_repos(tmp_path / "repos")
    location = f"s3://{s3_moto_env.new_bucket('weights')}/w"
    storage = Storage()
    for folder in repos.values():
        for f in folder.iterdir():
            storage.upload_file(str(f), f"{location}/{folder.relative_to(tmp_path / 'repos').as_posix()}/{f.name}")
    cfg = load_config([*hub_args(location), f"weights.cache_dir={tmp_path / 'cache'}"])
    copy = Path(local_models(cfg).model.clip.pretrained)
    times = {f.name: f.stat().st_mtime_ns for f in copy.iterdir()}
    assert {"config.json", "model.safetensors", "README.md"} <= set(times)
    assert Path(local_models(cfg).model.clip.pretrained) == copy
    assert {f.name: f.stat().st_mtime_ns for f in copy.iterdir()} == times  # nothing downloaded again
    clip_uri = f"{location}/{HUB_IDS['model.clip.pretrained']}"
    storage.write_text(f"{clip_uri}/README.md", "replaced\n")  # an object replaced in place
    storage.delete(f"{clip_uri}/pytorch_model.bin")
    local_models(cfg)
    assert (copy / "README.md").read_text() == "replaced\n" and not (copy / "pytorch_model.bin").exists()
    assert (copy / "model.safetensors").stat().st_mtime_ns == times["model.safetensors"]
