"""`ray job submit` against a real Ray head, exactly as cluster/README.md says to run a job.

A module fixture starts a Ray head on loopback (`ray start --head --block`, every port chosen free, its own
short temp dir, 4 logical CPUs) from this venv's bin, so its workers and the job's `python` are the
venv's; it is ready when a probe job runs (the dashboard answers before the job agent is up), and
is started again on other ports when it is not (CI, 2026-12-07: a head whose agent never came up
failed all of this module's tests). The extract job is submitted from the repository root with `--working-dir .` and
cluster/runtime_env.yaml, and its outputs are checked. Then the head is stopped and a submit to it must
fail. `ray stop` is not used: it stops every Ray process on the machine, other test sessions' included;
the head is stopped through its own `ray start --block` process (SIGTERM makes it stop the processes it
started), and anything left that runs under its temp dir is killed by pid.
Between them, the nightly submitter (jobs/nightly.py) on the same head: two submitters for one night give
one run, a failed night is resubmitted once, and the deadline stops the Ray job itself.
The pytest process itself never calls ray.init (tests/conftest.py's `ray_local` is not touched)."""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RAY = str(VENV_BIN / "ray")
SUBMIT_TIMEOUT_S = 600
# Ray 2.60 turns token authentication on for a new cluster; the head, the CLI and the job's driver
# share this token through the environment instead of ~/.ray/auth_token.
AUTH_TOKEN = secrets.token_hex(32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict:
    """This venv's bin first on PATH (the job's `python` and Ray's workers), no RAY_ADDRESS, this
    module's auth token, and every Ray address on loopback: Ray replaces --node-ip-address=127.0.0.1
    by the machine's outward address unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (its only other
    effect: no `ray start --address=...` worker nodes, which this test does not start)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH", "RAY_API_SERVER_ADDRESS")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=AUTH_TOKEN,
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    return env


@dataclass
class Head:
    proc: subprocess.Popen
    temp_dir: str
    dashboard: str
    log: Path

    def running(self) -> bool:
        return self.proc.poll() is None


def pids_under(temp_dir: str) -> list[int]:
    """Processes whose command line names this head's temp dir: only this head's own processes."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if temp_dir in cmdline:
            pids.append(int(entry.name))
    return pids


def stop_head(head: Head) -> None:
    if head.running():
        head.proc.send_signal(signal.SIGTERM)
        try:
            head.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.proc.pid, signal.SIGKILL)  # the session this fixture created for it
            head.proc.wait(timeout=30)
    deadline = time.time() + 30
    while pids_under(head.temp_dir) and time.time() < deadline:
        time.sleep(1)
    for pid in pids_under(head.temp_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for_dashboard(head: Head, timeout_s: float = 180) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if not head.running():
            raise RuntimeError(f"ray start exited {head.proc.returncode}:\n{head.log.read_text()[-4000:]}")
        request = urllib.request.Request(f"{head.dashboard}/api/version",
                                         headers={"Authorization": f"Bearer {AUTH_TOKEN}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"no job server at {head.dashboard} after {timeout_s} s:\n{head.log.read_text()[-4000:]}")


def wait_for_job_agent(head: Head, timeout_s: float = 120) -> None:
    """The dashboard answers before the head's job agent is up: a probe job must run. An agent that
    never comes up (it lost a port chosen free to another process, and took the head down with it)
    raises, so the fixture starts the head again on other ports."""
    deadline, said = time.time() + timeout_s, ""
    while time.time() < deadline:
        if not head.running():
            raise RuntimeError(f"ray start exited {head.proc.returncode}:\n{head.log.read_text()[-4000:]}")
        probe = subprocess.run([RAY, "job", "submit", "--address", head.dashboard, "--", "python", "-c", "pass"],
                               env=clean_env(), capture_output=True, text=True, timeout=timeout_s)
        if probe.returncode == 0:
            return
        said = probe.stdout + probe.stderr  # "No available agent ...", or the head going down
        time.sleep(1)
    raise TimeoutError(f"no job ran at {head.dashboard} in {timeout_s} s; the last probe said:\n{said[-4000:]}")


def start_head() -> Head:
    # Short: Ray's unix sockets live under the temp dir (path length limit ~107).
    temp_dir = tempfile.mkdtemp(prefix="vmray", dir="/tmp")
    dashboard_port = free_port()
    log = Path(temp_dir) / "ray_start.log"
    cmd = [RAY, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={free_port()}",
           "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}",
           "--num-cpus=4", f"--temp-dir={temp_dir}", "--disable-usage-stats",
           f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
           f"--dashboard-agent-grpc-port={free_port()}", f"--metrics-export-port={free_port()}",
           f"--runtime-env-agent-port={free_port()}"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=clean_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return Head(proc, temp_dir, f"http://127.0.0.1:{dashboard_port}", log)


HEAD_STARTS = 3  # ports are chosen free, then bound by Ray: another process can take one in between


@pytest.fixture(scope="module")
def ray_head():
    for attempt in range(1, HEAD_STARTS + 1):
        head = start_head()
        try:
            wait_for_dashboard(head)
            wait_for_job_agent(head)
            break
        except (RuntimeError, TimeoutError):
            stop_head(head)
            shutil.rmtree(head.temp_dir, ignore_errors=True)
            if attempt == HEAD_STARTS:
                raise
    try:
        assert "Local node IP: 127.0.0.1" in re.sub(r"\x1b\[[0-9;]*m", "", head.log.read_text())
        yield head
    finally:
        stop_head(head)
        shutil.rmtree(head.temp_dir, ignore_errors=True)


def submit(address: str, *job_args: str, timeout_s: float = SUBMIT_TIMEOUT_S) -> subprocess.CompletedProcess:
    """The README's command, from the repository root."""
    cmd = [RAY, "job", "submit", "--address", address, "--working-dir", ".",
           "--runtime-env", "cluster/runtime_env.yaml", "--", "python", *job_args]
    return subprocess.run(cmd, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=timeout_s)


@pytest.fixture(scope="module")
def world_videos(tmp_path_factory) -> Path:
    from vidmusician.config import load_config
    from vidmusician.synth.world import write_world
    root = tmp_path_factory.mktemp("world")
    write_world(load_config(["preset=debug", "world.num_videos=2"]), str(root))
    videos = root / "videos"
    assert len(list(videos.glob("*.mp4"))) == 2
    return videos


@pytest.mark.timeout(900)
def test_submit_extract_job(ray_head, world_videos, tmp_path):
    output = tmp_path / "features"
    started = time.time()
    result = submit(ray_head.dashboard, "jobs/extract_features.py", "preset=debug", "ray.address=auto",
                    f"input={world_videos}", f"output={output}")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "succeeded" in log and "extract_features ->" in log, log[-6000:]
    outcomes = pq.read_table(output / "outcomes.parquet").to_pylist()
    assert len(outcomes) == 2
    assert [r["status"] for r in outcomes] == ["ok", "ok"], outcomes
    assert {Path(r["uri"]).name for r in outcomes} == {p.name for p in world_videos.glob("*.mp4")}
    shards = sorted((output / "features").glob("part-*.parquet"))
    assert shards and sum(pq.read_metadata(s).num_rows for s in shards) > 0
    print(f"extract job via ray job submit: {time.time() - started:.1f} s")


# The nightly submitter's job (tests/test_job_submit.py's working dir): appends the night to a marker
# file, fails its first run when asked, then sleeps.
NIGHT_JOB = """import pathlib, sys, time
marker, mode, night, sleep_s = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
runs = marker.read_text().split() if marker.exists() else []
marker.write_text(" ".join(runs + [night]))
if mode == "fail-first" and not runs:
    sys.exit(1)
time.sleep(sleep_s)
"""
NIGHT_TIMEOUT_S = 300


def night_submitter(head: Head, workdir: Path, night: str, marker: Path, mode: str, sleep_s: float,
                    *options: str) -> subprocess.Popen:
    """cluster/kuberay/cronjob-nightly.yaml's command, with a short poll and this module's job."""
    (workdir / "night_job.py").write_text(NIGHT_JOB)
    cmd = [sys.executable, "jobs/nightly.py", "--address", head.dashboard, "--working-dir", str(workdir),
           "--runtime-env", "cluster/runtime_env.yaml", "--night", night, "--poll-s", "1", *options, "--",
           "python", "night_job.py", str(marker), mode, "{night}", str(sleep_s)]
    return subprocess.Popen(cmd, cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finished(proc: subprocess.Popen) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=NIGHT_TIMEOUT_S)
    return proc.returncode, out


def runs(marker: Path) -> list[str]:
    return marker.read_text().split() if marker.exists() else []


def night_jobs(head: Head, night: str) -> dict[str, str]:
    """submission id -> status of the night's Ray jobs, from the job server's REST API."""
    request = urllib.request.Request(f"{head.dashboard}/api/jobs/", headers={"Authorization": f"Bearer {AUTH_TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        jobs = json.load(response)
    return {j["submission_id"]: j["status"] for j in jobs if night in (j.get("submission_id") or "")}


@pytest.mark.timeout(120)
def test_the_submitter_asks_a_silent_job_server_again_then_gives_up(tmp_path):
    """No head at all (nothing listens on the port): the submitter keeps asking for --unreachable-s, as
    for a head restarting at the night's tick, then exits 1 saying so, not with a traceback."""
    (tmp_path / "night_job.py").write_text(NIGHT_JOB)
    cmd = [sys.executable, "jobs/nightly.py", "--address", f"http://127.0.0.1:{free_port()}", "--poll-s", "1",
           "--unreachable-s", "4", "--", "python", "night_job.py"]
    started = time.time()
    proc = subprocess.run(cmd, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=100)
    assert proc.returncode == 1 and "no job server at" in proc.stderr and "giving up" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and time.time() - started >= 4, proc.stderr


@pytest.mark.timeout(NIGHT_TIMEOUT_S * 3)
def test_two_submitters_for_one_night_give_one_run(ray_head, tmp_path):
    night, marker = "2026-11-27", tmp_path / "runs"
    first, second = (night_submitter(ray_head, tmp_path, night, marker, "ok", 8) for _ in range(2))
    (rc1, out1), (rc2, out2) = finished(first), finished(second)
    assert (rc1, rc2) == (0, 0), out1 + out2
    assert runs(marker) == [night], out1 + out2                        # the job ran once, for that night
    assert night_jobs(ray_head, night) == {f"vidmusician-nightly-{night}": "SUCCEEDED"}
    assert "following it" in out1 + out2 or "submitted by another submitter" in out1 + out2
    rc3, out3 = finished(night_submitter(ray_head, tmp_path, night, marker, "ok", 8))  # a retry after the end
    assert rc3 == 0 and "already succeeded" in out3, out3
    assert runs(marker) == [night]


@pytest.mark.timeout(NIGHT_TIMEOUT_S * 3)
def test_a_failed_night_is_resubmitted_and_resumes(ray_head, tmp_path):
    night, marker = "2026-11-26", tmp_path / "runs"
    # A submitter allowed one attempt gives up on the failure ...
    rc, out = finished(night_submitter(ray_head, tmp_path, night, marker, "fail-first", 1, "--max-attempts", "1"))
    assert rc == 1 and "giving up" in out, out
    assert night_jobs(ray_head, night) == {f"vidmusician-nightly-{night}": "FAILED"}
    # ... and the retried pod resubmits the next attempt, which resumes and succeeds.
    rc, out = finished(night_submitter(ray_head, tmp_path, night, marker, "fail-first", 1))
    assert rc == 0, out
    assert runs(marker) == [night, night]
    assert night_jobs(ray_head, night) == {f"vidmusician-nightly-{night}": "FAILED",
                                           f"vidmusician-nightly-{night}-r1": "SUCCEEDED"}


@pytest.mark.timeout(NIGHT_TIMEOUT_S * 2)
def test_the_deadline_stops_the_ray_job_and_no_retry_restarts_it(ray_head, tmp_path):
    night, marker = "2026-11-25", tmp_path / "runs"
    rc, out = finished(night_submitter(ray_head, tmp_path, night, marker, "ok", NIGHT_TIMEOUT_S, "--deadline-s", "10"))
    assert rc == 1 and "past the night's deadline" in out, out
    assert night_jobs(ray_head, night) == {f"vidmusician-nightly-{night}": "STOPPED"}  # the Ray job itself
    rc, out = finished(night_submitter(ray_head, tmp_path, night, marker, "ok", 1, "--deadline-s", "10"))
    assert rc == 1 and "was stopped" in out, out
    assert runs(marker) in ([], [night])  # one run at most (the deadline may stop it before it writes)
    assert night_jobs(ray_head, night) == {f"vidmusician-nightly-{night}": "STOPPED"}


@pytest.mark.timeout(300)
def test_submit_to_stopped_head_fails(ray_head, world_videos, tmp_path):
    stop_head(ray_head)
    assert not ray_head.running()
    assert pids_under(ray_head.temp_dir) == []
    result = submit(ray_head.dashboard, "jobs/extract_features.py", "preset=debug", "ray.address=auto",
                    f"input={world_videos}", f"output={tmp_path / 'never'}", timeout_s=240)
    assert result.returncode != 0
    assert not (tmp_path / "never").exists()
