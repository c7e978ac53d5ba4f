"""vidmusician.storage against local paths, file:// URIs and two real S3 servers (moto, SeaweedFS)."""
from __future__ import annotations

import http.server
import os
import pickle
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import vidmusician.storage as storage_mod
from s3_servers import free_port
from vidmusician.config.schema import StorageConfig
from vidmusician.storage import AccessDenied, BucketNotFound, ObjectNotFound, Storage, StorageError, join_uri

MiB = 1024 * 1024
# The smallest part S3 (and moto) accepts for all parts but the last.
S3_MIN_PART = 5 * MiB


# ---- shared behaviour: the same checks run on a local dir, a file:// dir and an S3 bucket ---------------
def _check_roundtrip(s: Storage, root: str, tmp_path) -> None:
    a = join_uri(root, "dir", "a.bin")
    t = join_uri(root, "dir/sub", "t.txt")
    assert not s.exists(a)
    s.write_bytes(a, b"\x00\x01" * 10)
    assert s.exists(a) and s.size(a) == 20 and s.read_bytes(a) == b"\x00\x01" * 10
    s.write_bytes(a, b"new")  # overwrite
    assert s.read_bytes(a) == b"new" and s.size(a) == 3
    s.write_text(t, "héllo ✓\n")
    assert s.read_text(t) == "héllo ✓\n"

    assert s.list(join_uri(root, "dir")) == sorted([a, t])
    assert s.list(join_uri(root, "dir") + "/") == sorted([a, t])
    assert s.list(join_uri(root, "dir"), suffixes=(".txt",)) == [t]
    assert s.list(join_uri(root, "dir"), suffixes=(".txt", ".bin")) == sorted([a, t])
    assert s.list(join_uri(root, "di")) == []  # a prefix is a directory, not a string prefix
    assert s.list(join_uri(root, "nothing-here")) == []

    missing = join_uri(root, "dir", "missing.bin")
    assert not s.exists(missing)
    for read in (s.read_bytes, s.read_text, s.size):
        with pytest.raises(ObjectNotFound, match=re.escape(missing)):
            read(missing)
    with pytest.raises(ObjectNotFound, match=re.escape(missing)):
        with s.local_copy(missing):
            pass

    with s.local_copy(t) as path:
        assert os.path.isfile(path)
        with open(path, encoding="utf-8") as f:
            assert f.read() == "héllo ✓\n"

    src = tmp_path / "upload-src.bin"
    src.write_bytes(os.urandom(1000))
    up = join_uri(root, "up", "f.bin")
    s.upload_file(str(src), up)
    assert s.read_bytes(up) == src.read_bytes()

    s.delete(a)
    assert not s.exists(a)
    s.delete(a)  # deleting a missing object is not an error
    assert s.list(join_uri(root, "dir")) == [t]


# ---- join_uri and scheme handling ---------------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    (("s3://b", "k"), "s3://b/k"),
    (("s3://b/", "/a/", "b.txt"), "s3://b/a/b.txt"),
    (("s3://b/run//", "x//y/", ""), "s3://b/run/x/y"),
    (("s3://b/p",), "s3://b/p"),
    (("/tmp/out/", "a"), "/tmp/out/a"),
    (("/", "a"), "/a"),
    (("rel/dir", "f.txt"), "rel/dir/f.txt"),
    (("", "f.txt"), "f.txt"),
    (("file:///tmp", "a", "b"), "file:///tmp/a/b"),
    (("file:///", "a"), "file:///a"),
])
def test_join_uri(args, expected):
    assert join_uri(*args) == expected


def test_is_remote_and_unsupported_scheme():
    s = Storage()
    assert s.is_remote("s3://b/k")
    assert not s.is_remote("/tmp/x") and not s.is_remote("file:///tmp/x") and not s.is_remote("rel/x")
    with pytest.raises(StorageError, match=r"gs://b/k: unsupported URI scheme"):
        s.read_bytes("gs://b/k")
    with pytest.raises(StorageError, match=r"s3:///k: no bucket"):
        s.read_bytes("s3:///k")


# ---- local ---------------------------------------------------------------------------------------------
@pytest.fixture(params=["path", "file-uri"])
def local_root(request, tmp_path):
    root = tmp_path / "root"
    return str(root) if request.param == "path" else root.as_uri()


def test_local_roundtrip(local_root, tmp_path):
    _check_roundtrip(Storage(), local_root, tmp_path)


def test_local_copy_of_local_file_is_the_file_itself(tmp_path):
    path = tmp_path / "v.mp4"
    path.write_bytes(b"video")
    with Storage().local_copy(str(path)) as p:
        assert p == str(path)
    assert path.read_bytes() == b"video"  # not removed afterwards


def test_local_write_is_atomic_for_a_concurrent_reader(tmp_path):
    """A reader polling while large files are rewritten sees only complete files (a plain open('wb')
    truncates first and fails this), and no temp file is left behind."""
    s = Storage()
    path = str(tmp_path / "f.bin")
    size, writes = 4 * MiB, 20
    s.write_bytes(path, b"A" * size)
    done = threading.Event()
    bad, reads = [], [0]

    def reader():
        while not done.is_set():
            data = s.read_bytes(path)
            reads[0] += 1
            if len(data) != size or data.count(data[:1]) != size:
                bad.append((len(data), data[:1], data[-1:]))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(writes):
            s.write_bytes(path, (b"B" if i % 2 == 0 else b"A") * size)
    finally:
        done.set()
        thread.join()
    assert not bad, f"reader saw partial files: {bad[:5]}"
    assert reads[0] >= writes, "the reader did not overlap the writes"
    assert os.listdir(tmp_path) == ["f.bin"]
    # Permissions are those of a normally created file, not the 0600 of a mkstemp file.
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_local_failed_write_keeps_old_content_and_no_temp_file(tmp_path):
    s = Storage()
    path = str(tmp_path / "f.txt")
    s.write_text(path, "old")
    with pytest.raises(TypeError):
        s.write_bytes(path, object())  # fails while writing the temp file
    assert s.read_text(path) == "old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_a_killed_writers_temp_files_are_removed_and_a_live_ones_kept(tmp_path):
    """A writer killed mid-write leaves its temp file; the next run removes it (its pid is gone)."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (tmp_path / "a" / "b").mkdir(parents=True)
    orphan = tmp_path / "a" / "b" / f".vidmusician-tmp-{dead}-0123abcd"
    live = tmp_path / "a" / f".vidmusician-tmp-{os.getpid()}-4567ef01"
    for f in (orphan, live):
        f.write_bytes(b"half a file")
    storage = Storage()
    storage.write_text(str(tmp_path / "a" / "done.txt"), "whole")
    assert storage.remove_orphaned_temps(str(tmp_path)) == 1
    assert not orphan.exists() and live.exists() and (tmp_path / "a" / "done.txt").read_text() == "whole"


def test_local_arrow_fs(tmp_path):
    fs, path = Storage().arrow_fs((tmp_path / "t.parquet").as_uri())
    assert isinstance(fs, pafs.LocalFileSystem) and path == str(tmp_path / "t.parquet")
    table = pa.table({"x": [1, 2, 3]})
    pq.write_table(table, path, filesystem=fs)
    assert pq.read_table(str(tmp_path / "t.parquet")).equals(table)


# ---- S3, against both servers --------------------------------------------------------------------------
def test_s3_roundtrip(s3_env, tmp_path):
    bucket = s3_env.new_bucket()
    _check_roundtrip(Storage(), f"s3://{bucket}", tmp_path)
    # What Storage wrote is a plain object to any other client.
    body = s3_env.client().get_object(Bucket=bucket, Key="dir/sub/t.txt")["Body"].read()
    assert body.decode() == "héllo ✓\n"


def test_s3_missing_bucket(s3_env, tmp_path):
    s = Storage()
    uri = "s3://no-such-bucket-vidmusician/k.txt"
    src = tmp_path / "f"
    src.write_bytes(b"x")

    def local_copy():
        with s.local_copy(uri):
            pass

    ops = [lambda: s.read_bytes(uri), lambda: s.exists(uri), lambda: s.size(uri),
           lambda: s.write_bytes(uri, b"x"), lambda: s.delete(uri), lambda: s.upload_file(str(src), uri),
           local_copy]
    for op in ops:
        with pytest.raises(BucketNotFound, match=re.escape(f"{uri}: bucket not found")):
            op()
    with pytest.raises(BucketNotFound, match="s3://no-such-bucket-vidmusician/run: bucket not found"):
        s.list("s3://no-such-bucket-vidmusician/run")


@pytest.mark.parametrize("wrong", ["secret", "key-id"])
def test_s3_wrong_credentials_are_access_denied_without_leaking_them(s3_env, monkeypatch, tmp_path, wrong):
    bucket = s3_env.new_bucket()
    uri = f"s3://{bucket}/k.txt"
    Storage().write_text(uri, "x")
    bad_key, bad_secret = "AKIA" + "Z" * 16, "wrong-secret-" + "q" * 20
    if wrong == "secret":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", bad_secret)
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", bad_key)
    s = Storage()
    src = tmp_path / "f"
    src.write_bytes(b"x")
    ops = [lambda: s.read_bytes(uri), lambda: s.exists(uri), lambda: s.size(uri),
           lambda: s.write_bytes(uri, b"y"), lambda: s.upload_file(str(src), uri), lambda: s.delete(uri),
           lambda: s.list(f"s3://{bucket}/")]
    for op in ops:
        with pytest.raises(AccessDenied) as info:
            op()
        message = str(info.value)
        assert message.startswith(f"s3://{bucket}/")
        for secret in (bad_key, bad_secret, s3_env.access_key, s3_env.secret_key):
            assert secret not in message
    assert s3_env.client().get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"x"  # untouched


def test_s3_list_many_keys_paginates(s3_env):
    s = Storage()
    bucket = s3_env.new_bucket()
    n = 1100  # > 1000, the most keys one ListObjectsV2 page holds
    keys = [join_uri(f"s3://{bucket}", "many", f"{i // 100:02d}", f"k{i:05d}.{'json' if i % 10 else 'txt'}")
            for i in range(n)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda u: s.write_bytes(u, b"1"), keys))
    s.write_bytes(f"s3://{bucket}/many2/outside.json", b"1")  # shares the string prefix, not the directory

    pages = []
    s.client().meta.events.register("before-call.s3.ListObjectsV2", lambda **kw: pages.append(1))
    assert s.list(f"s3://{bucket}/many") == sorted(keys)
    assert len(pages) >= 2, "listing did not paginate"
    assert s.list(f"s3://{bucket}/many", suffixes=(".txt",)) == sorted(k for k in keys if k.endswith(".txt"))
    assert len(s.list(f"s3://{bucket}")) == n + 1


@pytest.fixture
def small_parts(monkeypatch):
    """Multipart uploads from 5 MiB on, so that a 15 MiB file is a 4-part upload."""
    monkeypatch.setattr(storage_mod, "MULTIPART_THRESHOLD", S3_MIN_PART)
    monkeypatch.setattr(storage_mod, "MULTIPART_CHUNKSIZE", S3_MIN_PART)


def _in_progress(client, bucket: str) -> list[str]:
    return [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_s3_multipart_upload_is_invisible_until_complete(s3_env, tmp_path, small_parts):
    s, admin = Storage(), s3_env.client()
    bucket = s3_env.new_bucket()
    uri = f"s3://{bucket}/big/video.mp4"
    payload = os.urandom(3 * S3_MIN_PART + 12345)
    src = tmp_path / "video.mp4"
    src.write_bytes(payload)
    lock, sent, next_check, seen = threading.Lock(), [0], [0], []

    def progress(n: int) -> None:  # runs in the transfer threads while parts are being sent
        with lock:
            sent[0] += n
            if sent[0] < next_check[0]:
                return
            next_check[0] = sent[0] + S3_MIN_PART // 2
        seen.append((s.exists(uri), _in_progress(admin, bucket)))

    s.upload_file(str(src), uri, progress=progress)
    assert len(seen) >= 3
    assert not any(visible for visible, _ in seen), "object visible before the upload completed"
    assert any("big/video.mp4" in keys for _, keys in seen), "no multipart upload was observed in progress"
    assert s.read_bytes(uri) == payload
    assert _in_progress(admin, bucket) == []


def test_s3_failed_multipart_upload_leaves_nothing(s3_env, tmp_path, small_parts):
    s, admin = Storage(), s3_env.client()
    bucket = s3_env.new_bucket()
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * S3_MIN_PART))
    old, new = f"s3://{bucket}/old.bin", f"s3://{bucket}/new.bin"
    s.write_bytes(old, b"previous version")

    for uri in (old, new):
        sent = [0]
        lock = threading.Lock()

        def crash_midway(n: int) -> None:
            with lock:
                sent[0] += n
                if sent[0] > S3_MIN_PART:
                    raise RuntimeError("simulated crash mid-upload")

        with pytest.raises(RuntimeError, match="simulated crash"):
            s.upload_file(str(src), uri, progress=crash_midway)
    assert s.read_bytes(old) == b"previous version"
    assert not s.exists(new)
    assert _in_progress(admin, bucket) == []  # the multipart uploads were aborted
    assert s.list(f"s3://{bucket}") == [old]


def test_s3_local_copy(s3_env):
    s = Storage()
    bucket = s3_env.new_bucket()
    uri = f"s3://{bucket}/clips/c1.mp4"
    s.write_bytes(uri, b"frames" * 1000)
    with s.local_copy(uri) as path:
        assert os.path.basename(path) == "c1.mp4"  # decoders may look at the extension
        with open(path, "rb") as f:
            assert f.read() == b"frames" * 1000
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))


def test_s3_arrow_fs_parquet_round_trip(s3_env):
    s = Storage()
    bucket = s3_env.new_bucket()
    table = pa.table({"id": list(range(1000)), "name": [f"clip-{i}" for i in range(1000)]})

    fs, path = s.arrow_fs(f"s3://{bucket}/tables/t.parquet")
    assert isinstance(fs, pafs.S3FileSystem) and path == f"{bucket}/tables/t.parquet"
    pq.write_table(table, path, filesystem=fs)
    assert pq.read_table(path, filesystem=fs).equals(table)
    # boto3 and pyarrow see the same object.
    assert pq.read_table(pa.BufferReader(s.read_bytes(f"s3://{bucket}/tables/t.parquet"))).equals(table)

    # A dataset directory, the way Ray Data writes one.
    fs, path = s.arrow_fs(f"s3://{bucket}/ds/")
    pads.write_dataset(table, path, filesystem=fs, format="parquet", max_rows_per_file=300,
                       max_rows_per_group=300)
    files = s.list(f"s3://{bucket}/ds", suffixes=(".parquet",))
    assert len(files) == 4
    assert s.list(f"s3://{bucket}/ds") == files  # directory markers are not listed as objects
    back = pads.dataset(path, filesystem=fs, format="parquet").to_table().sort_by("id")
    assert back.equals(table)


def test_s3_endpoint_from_env_and_config_precedence(s3_env, monkeypatch):
    bucket = s3_env.new_bucket()
    uri = f"s3://{bucket}/cfg.yaml"
    s = Storage(StorageConfig())  # no endpoint in config: AWS_ENDPOINT_URL from the env
    assert s.endpoint_url() == s3_env.endpoint_url
    s.write_text(uri, "a: 1\n")
    assert s3_env.client().get_object(Bucket=bucket, Key="cfg.yaml")["Body"].read() == b"a: 1\n"
    fs, path = s.arrow_fs(uri)
    with fs.open_input_stream(path) as f:
        assert f.read() == b"a: 1\n"

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    assert Storage(StorageConfig(endpoint_url=s3_env.endpoint_url)).read_text(uri) == "a: 1\n"
    with pytest.raises(StorageError, match=re.escape(uri)):
        Storage(StorageConfig(max_attempts=0)).read_text(uri)


def test_storage_pickles_without_clients_or_credentials(s3_env):
    bucket = s3_env.new_bucket()
    uri = f"s3://{bucket}/p.txt"
    s = Storage(StorageConfig(max_attempts=3))
    s.write_text(uri, "pickled")
    s.arrow_fs(uri)  # both clients cached
    blob = pickle.dumps(s)
    assert s3_env.secret_key.encode() not in blob and s3_env.access_key.encode() not in blob
    s2 = pickle.loads(blob)
    assert s2.cfg == s.cfg and s2.read_text(uri) == "pickled"
    fs, path = s2.arrow_fs(uri)
    assert fs.get_file_info(path).size == len("pickled")
    # In a fresh process, as on a Ray worker (credentials from its env, inherited here).
    code = "import pickle, sys; s = pickle.loads(sys.stdin.buffer.read()); print(s.read_text(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", code, uri], input=blob, capture_output=True, check=True)
    assert out.stdout.decode().strip() == "pickled"


# ---- retries ---------------------------------------------------------------------------------------------
def test_botocore_client_config_from_storage_config():
    cfg = StorageConfig(endpoint_url="http://127.0.0.1:9", region="eu-west-1", max_attempts=7,
                        connect_timeout_s=3.0, read_timeout_s=9.0, addressing_style="path")
    client = Storage(cfg).client()
    # botocore's max_attempts counts retries; it stores them as total_max_attempts = first try + retries.
    assert client.meta.config.retries == {"total_max_attempts": 8, "mode": "standard"}
    assert client.meta.config.connect_timeout == 3.0 and client.meta.config.read_timeout == 9.0
    assert client.meta.config.s3["addressing_style"] == "path"
    assert client.meta.region_name == "eu-west-1" and client.meta.endpoint_url == "http://127.0.0.1:9"


class _AlwaysSlowDown(http.server.BaseHTTPRequestHandler):
    """An S3 endpoint that answers every request with a retryable 503 SlowDown, and counts them."""
    requests: list

    def _reply(self):
        self.requests.append(self.command)
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = _reply

    def log_message(self, *args):
        pass


@pytest.fixture
def slowdown_endpoint(monkeypatch):
    handler = type("Handler", (_AlwaysSlowDown,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    server.shutdown()
    server.server_close()


def test_retries_on_throttling_boto3_and_pyarrow(slowdown_endpoint):
    endpoint, requests = slowdown_endpoint
    s = Storage(StorageConfig(endpoint_url=endpoint, max_attempts=1, region="us-east-1"))
    with pytest.raises(StorageError, match=r"s3://bkt/k\.txt: S3 error SlowDown"):
        s.read_bytes("s3://bkt/k.txt")
    assert len(requests) == 2  # the first try + max_attempts retries

    requests.clear()
    fs, path = s.arrow_fs("s3://bkt/k.txt")
    with pytest.raises(OSError):
        fs.get_file_info(path)
    assert len(requests) == 2
