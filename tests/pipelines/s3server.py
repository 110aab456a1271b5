"""A real S3 server for tests: ``moto_server`` in a subprocess on 127.0.0.1, and pytest fixtures.

    # tests/conftest.py
    from tests.pipelines.s3server import moto_server_endpoint, s3_env, s3_store_url  # noqa: F401

``moto_server_endpoint`` (session) starts one server for the run; ``s3_store_url`` (per test) points the
standard AWS environment at it with dummy credentials and returns ``s3://<fresh bucket>/data``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

HOST = "127.0.0.1"
START_TIMEOUT = 30.0  # seconds; moto_server answers in ~1 s, more on a loaded 2-core CI machine
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
TEST_REGION = "us-east-1"

# Variables that would point boto3 (or pyarrow) somewhere other than the test server.
_ISOLATE = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "CLEANWIRE_S3_ADDRESSING_STYLE",
    "CLEANWIRE_S3_RETRY_MODE",
    "CLEANWIRE_S3_MAX_ATTEMPTS",
    "CLEANWIRE_S3_CONNECT_TIMEOUT",
    "CLEANWIRE_S3_READ_TIMEOUT",
    "CLEANWIRE_S3_CONDITIONAL_WRITES",
)

# moto keeps its state in memory: a restarted server has no buckets. To restart "with its data", a
# subprocess creates the buckets in moto's backend before it starts serving, so no request can arrive
# in between (moto 5.2 internals; only used for restart tests). With a ready-file it then creates that
# file and waits for a line on stdin before binding the port, so a test can load it while the old server
# still runs and make the outage as short as it likes.
_SEEDED_SERVER = """
import pathlib, sys
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.server import main
host, port, ready_file, *buckets = sys.argv[1:]
for name in buckets:
    s3_backends[DEFAULT_ACCOUNT_ID]["aws"].create_bucket(name, "us-east-1")
if ready_file:
    pathlib.Path(ready_file).touch()
    sys.stdin.readline()
main(["-H", host, "-p", port])
"""


def moto_server_executable() -> str:
    """The ``moto_server`` console script of the running interpreter's environment."""
    beside = Path(sys.executable).parent / "moto_server"
    if beside.exists():
        return str(beside)
    found = shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server not found: install moto[server]")
    return found


def free_port(host: str = HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """One ``moto_server`` process; ``stop()`` and ``start()`` again reuse the same port."""

    def __init__(self, host: str = HOST, port: int | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.endpoint = f"http://{host}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, seed_buckets: Iterable[str] = (), *, hold: bool = False) -> MotoServer:
        """Start and wait until it answers; with ``hold``, load and seed but bind only on ``release()``."""
        buckets = list(seed_buckets)
        ready = Path(tempfile.mkdtemp(prefix="moto-")) / "ready" if hold else None
        if buckets or hold:
            command = [
                sys.executable,
                "-c",
                _SEEDED_SERVER,
                self.host,
                str(self.port),
                str(ready or ""),
                *buckets,
            ]
        else:
            command = [moto_server_executable(), "-H", self.host, "-p", str(self.port)]
        # The request log goes to stderr, one line per request: discard it rather than fill a pipe.
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if hold else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if ready is None:
            self._wait_until_answering()
        else:
            self._wait_for(ready.exists, "load")
            shutil.rmtree(ready.parent, ignore_errors=True)
        return self

    def release(self) -> None:
        """Let a server started with ``hold=True`` bind its port, and wait until it answers."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(b"go\n")
        self._process.stdin.close()
        self._wait_until_answering()

    def _answering(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _wait_until_answering(self) -> None:
        self._wait_for(self._answering, "answer")

    def _wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"moto_server exited with code {self._process.returncode} on port {self.port}"
                )
            if condition():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"moto_server on {self.endpoint} did not {what} within {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> MotoServer:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=TEST_REGION,
    ).client("s3", endpoint_url=endpoint)


def create_bucket(endpoint: str, name: str | None = None) -> str:
    name = name or f"cw-test-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def set_test_env(monkeypatch: pytest.MonkeyPatch, endpoint: str, tmp_path: Path) -> None:
    for name in _ISOLATE:
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
    monkeypatch.setenv("CLEANWIRE_S3_ENDPOINT_URL", endpoint)
    # No ~/.aws files and no instance-metadata lookups.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_server_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto_server running for the whole test session."""
    with MotoServer() as server:
        yield server.endpoint


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, moto_server_endpoint: str, tmp_path: Path) -> str:
    """The AWS/cleanwire environment pointed at the test server; returns the endpoint."""
    set_test_env(monkeypatch, moto_server_endpoint, tmp_path)
    return moto_server_endpoint


@pytest.fixture
def s3_store_url(s3_env: str) -> str:
    """``s3://<fresh bucket>/data`` on the test server, with the environment set for ``open_store``."""
    return f"s3://{create_bucket(s3_env)}/data"


__all__ = [
    "MotoServer",
    "create_bucket",
    "moto_server_endpoint",
    "moto_server_executable",
    "s3_client",
    "s3_env",
    "s3_store_url",
    "set_test_env",
]
