"""Shared fixtures: real S3 servers on loopback (see s3_servers.py).

- `s3_moto` / `s3_seaweedfs` (session): one running server each, started on first use; an `S3Server` with
  endpoint_url, access_key, secret_key, region, client(), new_bucket(), env().
- `s3_server` (session, parametrized "moto" / "seaweedfs"): the same servers, so a test runs against both.
- `s3_env` / `s3_moto_env` (function): also point the default AWS chain (AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, region; user's ~/.aws ignored) at that server for the test.
- `ray_local` (module): a local Ray whose workers reach the moto server.
"""
from __future__ import annotations

import os

import pytest
import ray

from s3_servers import S3Server, start_moto, start_seaweedfs


@pytest.fixture(scope="session")
def s3_moto() -> S3Server:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_seaweedfs() -> S3Server:
    server = start_seaweedfs()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["moto", "seaweedfs"])
def s3_server(request) -> S3Server:
    return request.getfixturevalue(f"s3_{request.param}")


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch) -> S3Server:
    s3_server.apply_env(monkeypatch)
    return s3_server


@pytest.fixture
def s3_moto_env(s3_moto: S3Server, monkeypatch) -> S3Server:
    s3_moto.apply_env(monkeypatch)
    return s3_moto


@pytest.fixture(scope="module")
def ray_local(s3_moto):
    """One local Ray for the module, started with the moto credentials in its environment."""
    saved = dict(os.environ)
    os.environ.update(s3_moto.env())
    ray.shutdown()
    yield s3_moto
    ray.shutdown()
    os.environ.clear()
    os.environ.update(saved)
