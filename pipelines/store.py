"""Object stores: one small interface, a local-directory store (the embedded default) and S3.

Keys are '/'-separated relative paths, identical for every backend, so the layout in
``pipelines/layout.py`` is the same on disk and in a bucket.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Protocol, runtime_checkable


class StoreError(RuntimeError):
    """A store operation failed; the message names the store and key, never credentials."""

    def __str__(self) -> str:  # KeyError (a base of KeyNotFound) would quote the message
        return str(self.args[0]) if self.args else ""


class KeyNotFound(StoreError, KeyError):
    pass


class InvalidKey(StoreError, ValueError):
    pass


@runtime_checkable
class ObjectStore(Protocol):
    url: str

    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        """Write ``data`` under ``key`` only if no object exists there. True if written."""

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Write or replace (only for mutable objects: state, manifests written per run)."""

    def get(self, key: str) -> bytes:
        """Read an object; raises KeyNotFound."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` in lexicographic order."""

    def upload_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> bool:
        """Upload a local file write-once (multipart for large files on S3). True if written."""

    def download_file(self, key: str, path: Path) -> None: ...

    def delete(self, key: str) -> None: ...


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in key:
        raise InvalidKey(f"invalid object key {key!r}")
    return key


class LocalStore:
    """A directory as an object store. Writes are atomic: a complete, synced temp file is renamed
    (replace) or hard-linked (write-once: ``link`` fails if the target exists, so racing writers cannot
    both win); readers never see a partial object. A writer killed mid-write leaves a ``.tmp-*`` file
    that ``list`` never shows (pyarrow's dataset discovery skips dot-files too)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({self.url!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _tempfile(self, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        os.close(fd)
        return Path(tmp)

    def _write_temp(self, target: Path, write: Callable[[IO[bytes]], object]) -> Path:
        """A complete, synced temp file beside ``target``; removed again if writing fails."""
        tmp = self._tempfile(target)
        try:
            with open(tmp, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _publish_once(self, tmp: Path, target: Path) -> bool:
        try:
            os.link(tmp, target)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _publish_replace(self, tmp: Path, target: Path) -> None:
        try:
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        target = self._path(key)
        if target.exists():
            return False
        return self._publish_once(self._write_temp(target, lambda fh: fh.write(data)), target)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        target = self._path(key)
        self._publish_replace(self._write_temp(target, lambda fh: fh.write(data)), target)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyNotFound(f"{self.url}: no object {key!r}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        """Published objects only: temp files of writes in progress (or of a writer killed mid-write)
        are never listed."""
        base = self.root
        start = base
        folder = prefix.rpartition("/")[0]
        if folder and not any(p in ("", ".", "..") for p in folder.split("/")):
            start = base.joinpath(*folder.split("/"))  # only the folder the prefix lies in is walked
        keys = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".tmp-")]
            rel = Path(dirpath).relative_to(base).as_posix()
            for name in filenames:
                if name.startswith(".tmp-"):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)

    def upload_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> bool:
        target = self._path(key)
        if target.exists():
            return False
        with open(path, "rb") as src:
            tmp = self._write_temp(target, lambda dst: shutil.copyfileobj(src, dst, 1 << 20))
        return self._publish_once(tmp, target)

    def download_file(self, key: str, path: Path) -> None:
        path.write_bytes(self.get(key))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def open_store(url: str | os.PathLike[str]) -> ObjectStore:
    """``s3://bucket/prefix`` → S3 store (boto3); anything else is a local directory."""
    text = os.fspath(url)
    if text.startswith("s3://"):
        from pipelines.s3 import S3Store

        return S3Store.from_url(text)
    if "://" in text and not text.startswith("file://"):
        raise StoreError(f"unsupported store URL {text!r}: use a directory path or s3://bucket/prefix")
    return LocalStore(text.removeprefix("file://"))
