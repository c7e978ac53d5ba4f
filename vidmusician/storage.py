"""One place for every URI the project reads or writes: local paths, `file://` URIs and `s3://bucket/key`.

S3 goes through boto3 for objects and through `pyarrow.fs.S3FileSystem` for Ray Data (`arrow_fs`). Both use
the standard AWS credential chain (env vars, `AWS_PROFILE`, config files, instance roles); the endpoint is
`StorageConfig.endpoint_url`, else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, else AWS itself.

Writes are atomic: a reader sees the old object or the new one, never part of one. Locally a temp file in
the destination directory is renamed over the target (`os.replace` is atomic on POSIX). On S3 an object only
appears when its single PUT, or the CompleteMultipartUpload of a multipart upload, succeeds; an aborted
multipart upload never becomes visible.
"""
from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
import shutil
import tempfile
import threading
import uuid
from typing import BinaryIO, Callable, Iterator, Optional
from urllib.parse import unquote, urlsplit

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pyarrow import fs as pafs

from vidmusician.config.schema import StorageConfig

# boto3 switches to a parallel multipart upload/download above this size; parts are this big. S3 allows
# 10,000 parts, so 16 MiB parts cover objects up to ~160 GB, and fewer, larger parts mean fewer requests.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNKSIZE = 16 * 1024 * 1024
# Used when neither the config nor the AWS chain names a region: AWS's default region, and a value every
# S3-compatible server (SeaweedFS, MinIO, moto) accepts in signatures.
DEFAULT_REGION = "us-east-1"
# Local writes go to a hidden temp file next to the target first; `list` never returns such files.
# Its name holds the writer's pid, so one left by a killed writer can be told from a live one's.
_TMP_PREFIX = ".vidmusician-tmp-"


def _tmp_path(directory: str) -> str:
    return os.path.join(directory, f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}")


def _writer_alive(tmp_name: str) -> bool:
    pid = tmp_name[len(_TMP_PREFIX):].split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
# botocore error codes. HEAD requests have no body, so S3 reports a missing key or bucket as a bare "404".
_HEAD_NOT_FOUND = {"404", "NotFound"}
_NOT_FOUND = {"NoSuchKey"} | _HEAD_NOT_FOUND
_NO_BUCKET = {"NoSuchBucket"}
_DENIED = {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
           "InvalidToken", "ExpiredToken"}


class StorageError(Exception):
    """A read or write that failed; the message names the URI and the cause, never credentials."""


class ObjectNotFound(StorageError):
    pass


class AccessDenied(StorageError):
    pass


class BucketNotFound(StorageError):
    pass


def _scheme(uri: str) -> str:
    match = _SCHEME_RE.match(uri)
    return match.group(1).lower() if match else ""


def join_uri(prefix: str, *parts: str) -> str:
    """`join_uri("s3://b/run/", "/x", "y.txt") == "s3://b/run/x/y.txt"`; same for local paths and file://."""
    scheme_end = _SCHEME_RE.match(prefix)
    head = prefix[: scheme_end.end()] if scheme_end else ""
    result = prefix[len(head):]
    for part in parts:
        part = re.sub("/+", "/", part).strip("/")
        if part:
            result = f"{result.rstrip('/')}/{part}" if result else part
    return head + result


def absolute_uri(uri: Optional[str]) -> Optional[str]:
    """A local path made absolute (for processes that run elsewhere: Ray Train workers chdir into
    their run's directory); URIs with a scheme and empty values unchanged."""
    if not uri or _scheme(uri):
        return uri
    return os.path.abspath(os.path.expanduser(uri))


def uri_problem(uri: object) -> Optional[str]:
    """Why `uri` cannot name an object (not a string, empty, an unsupported scheme, an S3 URI without
    a bucket or a key), or None."""
    if not isinstance(uri, str) or not uri.strip():
        return f"no URI ({uri!r})"
    scheme = _scheme(uri)
    if scheme == "s3":
        bucket, _, key = uri[len("s3://"):].partition("/")
        return None if bucket and key and not key.endswith("/") else f"malformed S3 URI {uri!r} (expected s3://bucket/key)"
    if scheme not in ("", "file"):
        return f"unsupported URI scheme {scheme!r} in {uri!r} (use a local path, file:// or s3://)"
    return None


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise StorageError(f"{uri}: no bucket in S3 URI (expected s3://bucket/key)")
    return bucket, key


def _local_path(uri: str) -> str:
    scheme = _scheme(uri)
    if scheme == "file":
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise StorageError(f"{uri}: file:// URIs on another host are not supported")
        return unquote(parts.path)
    if scheme:
        raise StorageError(f"{uri}: unsupported URI scheme {scheme!r} (use a local path, file:// or s3://)")
    return uri


def _error_code(err: BaseException) -> Optional[str]:
    """The S3 error code of a botocore ClientError, also when boto3's transfer manager wrapped it."""
    seen: Optional[BaseException] = err
    while seen is not None:
        if isinstance(seen, ClientError):
            return str(seen.response.get("Error", {}).get("Code", ""))
        seen = seen.__cause__ or seen.__context__
    return None


def _map_error(uri: str, err: BaseException) -> StorageError:
    """Translates a botocore/boto3/OS error. Only codes and fixed text go into the message: the secret key
    never reaches a server, but an access key id can be echoed back in an error body."""
    if isinstance(err, FileNotFoundError):
        return ObjectNotFound(f"{uri}: not found")
    if isinstance(err, PermissionError):
        return AccessDenied(f"{uri}: permission denied")
    code = _error_code(err)
    if code in _NO_BUCKET:
        return BucketNotFound(f"{uri}: bucket not found")
    if code in _NOT_FOUND:
        return ObjectNotFound(f"{uri}: object not found")
    if code in _DENIED:
        return AccessDenied(f"{uri}: access denied ({code}); check the AWS credentials and bucket permissions")
    if code is not None:
        return StorageError(f"{uri}: S3 error {code}")
    if isinstance(err, NoCredentialsError):
        return AccessDenied(f"{uri}: no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                            "or AWS_PROFILE)")
    if isinstance(err, BotoCoreError):  # connection refused, timeouts...: their text holds no credentials
        return StorageError(f"{uri}: {type(err).__name__}: {err}")
    if isinstance(err, OSError):
        return StorageError(f"{uri}: {err.strerror or err}")
    return StorageError(f"{uri}: {type(err).__name__}")


def _atomic_local_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = _tmp_path(directory)
    try:
        with open(tmp, "xb") as f:  # "x": a fresh file with the usual umask-derived permissions
            write(f)
            f.flush()
            os.fsync(f.fileno())  # data on disk before the rename, so a crash cannot leave an empty file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


class Storage:
    """Reads and writes local paths, file:// and s3:// URIs. Picklable (Ray ships it to workers): the S3
    clients are created lazily in each process and never pickled."""

    def __init__(self, cfg: StorageConfig | None = None):
        self.cfg = cfg if cfg is not None else StorageConfig()
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._session = None
        self._client = None
        self._arrow_s3 = None

    def __getstate__(self) -> dict:
        return {"cfg": self.cfg}

    def __setstate__(self, state: dict) -> None:
        self.cfg = state["cfg"]
        self._reset()

    # ---- S3 clients ---------------------------------------------------------------------------------
    def endpoint_url(self) -> Optional[str]:
        return (self.cfg.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3")
                or os.environ.get("AWS_ENDPOINT_URL") or None)

    def _boto_session(self):
        if self._session is None:
            self._session = boto3.session.Session()  # its own session: the default one is not thread-safe
        return self._session

    def region(self) -> str:
        return self.cfg.region or self._boto_session().region_name or DEFAULT_REGION

    def client(self):
        """The cached boto3 S3 client (for what this module does not wrap, e.g. presigned URLs)."""
        with self._lock:
            if self._client is None:
                config = Config(
                    retries={"max_attempts": self.cfg.max_attempts, "mode": "standard"},
                    s3={"addressing_style": self.cfg.addressing_style},
                    connect_timeout=self.cfg.connect_timeout_s,
                    read_timeout=self.cfg.read_timeout_s,
                )
                self._client = self._boto_session().client(
                    "s3", endpoint_url=self.endpoint_url(), region_name=self.region(), config=config)
            return self._client

    def _arrow_filesystem(self):
        with self._lock:
            if self._arrow_s3 is None:
                kwargs = dict(
                    region=self.region(),
                    # botocore's max_attempts counts retries after the first try; the AWS C++ SDK counts tries.
                    retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=self.cfg.max_attempts + 1),
                    connect_timeout=self.cfg.connect_timeout_s,
                    request_timeout=self.cfg.read_timeout_s,
                    force_virtual_addressing=self.cfg.addressing_style == "virtual",
                )
                endpoint = self.endpoint_url()
                if endpoint:
                    parts = urlsplit(endpoint)
                    kwargs["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
                    kwargs["scheme"] = parts.scheme or "https"
                # Credentials: pyarrow's own AWS SDK walks the same standard chain as boto3.
                self._arrow_s3 = pafs.S3FileSystem(**kwargs)
            return self._arrow_s3

    def _transfer_config(self):
        return TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNKSIZE)

    def _bucket_exists(self, bucket: str) -> bool:
        try:
            self.client().head_bucket(Bucket=bucket)
        except ClientError as err:
            return _error_code(err) not in _NOT_FOUND | _NO_BUCKET
        return True

    @contextlib.contextmanager
    def _errors(self, uri: str) -> Iterator[None]:
        """Re-raises any failure inside as a StorageError subclass naming `uri`."""
        try:
            yield
        except StorageError:
            raise
        except (ClientError, BotoCoreError, Boto3Error, OSError) as err:
            mapped = _map_error(uri, err)
            # A bare 404 (HEAD, download) does not say whether the key or the whole bucket is missing.
            if (self.is_remote(uri) and _error_code(err) in _HEAD_NOT_FOUND
                    and not self._bucket_exists(_split_s3(uri)[0])):
                mapped = BucketNotFound(f"{uri}: bucket not found")
            raise mapped from err

    def _s3_key(self, uri: str) -> tuple[str, str]:
        bucket, key = _split_s3(uri)
        if not key or key.endswith("/"):
            raise StorageError(f"{uri}: no object key (expected s3://bucket/key)")
        return bucket, key

    # ---- public API ---------------------------------------------------------------------------------
    @staticmethod
    def is_remote(uri: str) -> bool:
        return _scheme(uri) == "s3"

    def exists(self, uri: str) -> bool:
        """Whether an object (locally: a file; directories are not objects) exists at `uri`.
        A missing bucket is an error (BucketNotFound), not False: it is a misconfiguration, not a miss."""
        if not self.is_remote(uri):
            return os.path.isfile(_local_path(uri))
        try:
            self.size(uri)
        except ObjectNotFound:
            return False
        return True

    def size(self, uri: str) -> int:
        with self._errors(uri):
            if not self.is_remote(uri):
                return os.path.getsize(_local_path(uri))
            bucket, key = self._s3_key(uri)
            return int(self.client().head_object(Bucket=bucket, Key=key)["ContentLength"])

    def fingerprint(self, uri: str) -> str:
        """What changes when the object is replaced: size and ETag on S3, size and mtime locally."""
        with self._errors(uri):
            if not self.is_remote(uri):
                st = os.stat(_local_path(uri))
                return f"{st.st_size}-{st.st_mtime_ns}"
            bucket, key = self._s3_key(uri)
            head = self.client().head_object(Bucket=bucket, Key=key)
            return f"{head['ContentLength']}-{head['ETag']}"

    def read_bytes(self, uri: str) -> bytes:
        with self._errors(uri):
            if not self.is_remote(uri):
                with open(_local_path(uri), "rb") as f:
                    return f.read()
            bucket, key = self._s3_key(uri)
            return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def read_text(self, uri: str) -> str:
        return self.read_bytes(uri).decode("utf-8")

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Atomic; creates missing local parent directories. On S3 a single PUT (objects up to 5 GB)."""
        with self._errors(uri):
            if not self.is_remote(uri):
                _atomic_local_write(_local_path(uri), lambda f: f.write(data))
                return
            bucket, key = self._s3_key(uri)
            self.client().put_object(Bucket=bucket, Key=key, Body=data)

    def write_parquet(self, uri: str, table) -> None:
        """A pyarrow Table as one Parquet object, written atomically like write_bytes."""
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(table, buf)
        self.write_bytes(uri, buf.getvalue())

    def read_parquet(self, uri: str):
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(self.read_bytes(uri)))

    def write_text(self, uri: str, text: str) -> None:
        self.write_bytes(uri, text.encode("utf-8"))

    def write_if_changed(self, uri: str, data: bytes) -> bool:
        """Writes unless the object already holds exactly `data` (one GET): a rerun that changes
        nothing rewrites nothing. Returns whether it wrote."""
        try:
            if self.read_bytes(uri) == data:
                return False
        except ObjectNotFound:
            pass
        self.write_bytes(uri, data)
        return True

    def upload_file(self, local_path: str, uri: str,
                    progress: Optional[Callable[[int], None]] = None) -> None:
        """Copies a local file to `uri`, atomically. Files above MULTIPART_THRESHOLD go to S3 as a parallel
        multipart upload; `progress(n_bytes)` is called as chunks are sent (boto3's Callback)."""
        if not os.path.isfile(local_path):
            raise ObjectNotFound(f"{local_path}: not found")
        with self._errors(uri):
            if not self.is_remote(uri):
                with open(local_path, "rb") as src:
                    _atomic_local_write(_local_path(uri), lambda f: shutil.copyfileobj(src, f))
                return
            bucket, key = self._s3_key(uri)
            self.client().upload_file(local_path, bucket, key, Config=self._transfer_config(), Callback=progress)

    def download_file(self, uri: str, local_path: str) -> None:
        """Copies the object at `uri` to a local file, atomically (a reader never sees part of it)."""
        with self._errors(uri):
            if not self.is_remote(uri):
                with open(_local_path(uri), "rb") as src:
                    _atomic_local_write(local_path, lambda f: shutil.copyfileobj(src, f))
                return
            bucket, key = self._s3_key(uri)
            _atomic_local_write(local_path, lambda f: self.client().download_fileobj(
                bucket, key, f, Config=self._transfer_config()))

    def delete(self, uri: str) -> None:
        """Deletes one object. Deleting a missing object is not an error (as on S3); a missing bucket is."""
        with self._errors(uri):
            if not self.is_remote(uri):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(_local_path(uri))
                return
            bucket, key = self._s3_key(uri)
            self.client().delete_object(Bucket=bucket, Key=key)

    def list(self, prefix: str, suffixes: tuple[str, ...] | None = None) -> list[str]:
        """Full URIs of all objects under `prefix`, recursively, sorted. `prefix` is a directory:
        `s3://b/run` lists `s3://b/run/...`, not `s3://b/run2`. A missing directory lists as empty."""
        suffixes = tuple(suffixes) if suffixes else None
        with self._errors(prefix):
            if self.is_remote(prefix):
                bucket, key = _split_s3(prefix)
                key_prefix = key.rstrip("/") + "/" if key.strip("/") else ""
                pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix)
                # Keys ending in "/" are directory markers (pyarrow creates some), not objects.
                keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])
                        if not obj["Key"].endswith("/")]
                found = [f"s3://{bucket}/{k}" for k in keys]
            else:
                root = _local_path(prefix)
                found = []
                for directory, _, files in os.walk(root):
                    rel = os.path.relpath(directory, root)
                    found += [join_uri(prefix, "" if rel == "." else rel, name)
                              for name in files if not name.startswith(_TMP_PREFIX)]
        return sorted(u for u in found if suffixes is None or u.endswith(suffixes))

    def remove_orphaned_temps(self, prefix: str) -> int:
        """Deletes the temp files under a local `prefix` that writers killed mid-write left behind
        (their pid is gone); a live writer's are kept. Returns how many. S3 has none: an unfinished
        upload never becomes an object."""
        if self.is_remote(prefix):
            return 0
        removed = 0
        for directory, _, files in os.walk(_local_path(prefix)):
            for name in files:
                if name.startswith(_TMP_PREFIX) and not _writer_alive(name):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(directory, name))
                        removed += 1
        return removed

    @contextlib.contextmanager
    def local_copy(self, uri: str) -> Iterator[str]:
        """Yields a local filesystem path holding the object: the file itself when local, else a temp
        download (same basename) removed on exit. For readers that need a real path, e.g. FFmpeg's demuxers."""
        if not self.is_remote(uri):
            path = _local_path(uri)
            if not os.path.isfile(path):
                raise ObjectNotFound(f"{uri}: not found")
            yield path
            return
        bucket, key = self._s3_key(uri)
        with tempfile.TemporaryDirectory(prefix="vidmusician-") as tmp:
            path = os.path.join(tmp, posixpath.basename(key))
            with self._errors(uri):
                self.client().download_file(bucket, key, path, Config=self._transfer_config())
            yield path

    def arrow_fs(self, uri: str) -> tuple[pafs.FileSystem, str]:
        """`(pyarrow filesystem, path inside it)`, e.g. for `ray.data.read_parquet(path, filesystem=fs)`."""
        if self.is_remote(uri):
            bucket, key = _split_s3(uri)
            return self._arrow_filesystem(), f"{bucket}/{key}".rstrip("/")
        return pafs.LocalFileSystem(), os.path.abspath(_local_path(uri))
