"""The build cache: a content store of entries, each under the hash of what made it.

This module is the generic store (:class:`BuildCache`): its folder, locking, eviction
and ``fpga-flow cache`` figures, and the hashes keys are made of (:func:`digest`,
:func:`array_digest`). What goes in it and under which key is its users' business: a
build's design entries (:mod:`fpga_flow.pipeline.design_cache`), whole runs
(:mod:`fpga_flow.pipeline.run_cache`), compiled objects (:mod:`fpga_flow.csim`) and
yosys' per-module counts (:mod:`fpga_flow.rtl`).

Layout under the cache folder::

    entries/<key>/entry.json          manifest, written last and atomically
    entries/<key>/payload-<uuid>/     files of the entry
    locks/<key>.lock                  flock: writers exclusive, readers shared
    trash/                            entries being deleted

An entry exists exactly when its ``entry.json`` does. A writer holds the key's lock
exclusively while it builds, so concurrent workers asking for the same key wait and
then reuse the first one's result; a writer killed mid-way leaves a folder without a
manifest, which nobody reads and the next writer (or eviction) deletes. Readers hold
the lock shared while they use the entry, so eviction (which only takes free locks)
never removes an entry under them. Each attempt at an entry gets a fresh payload name,
so a compiler left running by a killed writer cannot write into its successor's files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from fpga_flow import rundir
from fpga_flow.errors import UserInputError

CACHE_DIR_ENV = "FPGA_FLOW_CACHE_DIR"
CACHE_SIZE_ENV = "FPGA_FLOW_CACHE_SIZE"
# Compiled objects kept in one folder for every reports folder and cache (like ccache):
# a unit whose preprocessed source, flags and compiler match is reused from there
# whichever build compiled it. Unset: objects are kept in each build's own cache.
OBJECT_DIR_ENV = "FPGA_FLOW_OBJECT_DIR"
DEFAULT_MAX_BYTES = 2 * 1024**3
CACHE_SUBDIR = "cache"
MANIFEST = "entry.json"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def default_cache_dir(reports_dir: str | Path = "reports") -> Path:
    """``$FPGA_FLOW_CACHE_DIR`` if set, else ``cache`` in the reports folder."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path(reports_dir) / CACHE_SUBDIR)


def config_cache_dir(cfg) -> Path:
    """The build cache folder of a build's configuration (``fpga_flow.config.BuildConfig``):
    its ``cache_dir``, else :func:`default_cache_dir` of its reports folder."""
    return Path(cfg.cache_dir or default_cache_dir(cfg.reports_dir))


def object_store(cfg) -> "BuildCache | None":
    """Where a build keeps its compiled objects: ``$FPGA_FLOW_OBJECT_DIR`` if set, else the
    build cache of its configuration; None with the cache off (``--no-cache``)."""
    if not cfg.use_cache:
        return None
    shared = os.environ.get(OBJECT_DIR_ENV)
    return BuildCache(Path(shared) if shared else config_cache_dir(cfg))


def parse_size(text: str) -> int:
    """Bytes from ``"500M"``, ``"2G"``, ``"1.5GiB"`` or a plain number of bytes."""
    match = _SIZE.match(str(text))
    if not match:
        raise UserInputError(f"cache size '{text}' is not a size: write e.g. 500M or 2G")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** "_kmgt".index(unit or "_"))


def default_max_bytes() -> int:
    value = os.environ.get(CACHE_SIZE_ENV)
    return parse_size(value) if value else DEFAULT_MAX_BYTES


# --------------------------------------------------------------------------- hashes


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot hash {type(value).__name__}")


def digest(value: Any) -> str:
    """SHA-256 of ``value`` as canonical JSON (sorted keys)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def array_digest(*arrays: np.ndarray | None) -> str:
    """SHA-256 over the dtype, shape and bytes of each array (None counts as absent)."""
    h = hashlib.sha256()
    for array in arrays:
        if array is None:
            h.update(b"none;")
            continue
        array = np.ascontiguousarray(array)
        h.update(f"{array.dtype.str}{array.shape};".encode())
        h.update(array.tobytes())
    return h.hexdigest()



# --------------------------------------------------------------------------- locks


CACHE_TAG_NAME = "CACHEDIR.TAG"
CACHE_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# fpga-flow build cache: see 'fpga-flow cache info'.\n"


class _KeyLock:
    """An flock on ``locks/<key>.lock`` that survives the file being unlinked and
    recreated by eviction: after each acquisition the open file must still be the one
    at the path, else it is reopened and locked again."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def acquire(self, mode: int, blocking: bool = True) -> bool:
        while True:
            if self.fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self.fd, mode if blocking else mode | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    return False
                raise
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(self.fd).st_ino:
                return True
            self.release()

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# --------------------------------------------------------------------------- store


@dataclass(frozen=True)
class CacheEntry:
    key: str
    folder: Path
    manifest: dict[str, Any]
    hit: bool  # False when this caller created it

    @property
    def meta(self) -> dict[str, Any]:
        return self.manifest["meta"]

    @property
    def payload(self) -> Path:
        if not self.manifest.get("payload"):
            raise KeyError(f"cache entry {self.key} holds no files")
        return self.folder / self.manifest["payload"]


@dataclass(frozen=True)
class CacheInfo:
    folder: Path
    entries: int
    bytes: int
    max_bytes: int
    by_kind: dict[str, dict[str, int]]
    unfinished: int
    oldest_use_utc: str | None
    newest_use_utc: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"dir": str(self.folder), "entries": self.entries, "bytes": self.bytes, "max_bytes": self.max_bytes,
                "by_kind": self.by_kind, "unfinished": self.unfinished,
                "oldest_use_utc": self.oldest_use_utc, "newest_use_utc": self.newest_use_utc}


@dataclass(frozen=True)
class ClearResult:
    removed: int
    freed_bytes: int
    busy: list[str] = field(default_factory=list)


def _tree_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


class BuildCache:
    """A folder of entries addressed by key, bounded by ``max_bytes`` (least recently
    used entries are evicted after each new entry)."""

    def __init__(self, folder: str | Path, max_bytes: int | None = None):
        self.folder = Path(folder).resolve()
        self.max_bytes = default_max_bytes() if max_bytes is None else int(max_bytes)
        if self.folder.exists() and not self.folder.is_dir():
            raise UserInputError(f"cache folder {self.folder} is a file: give a folder with --cache-dir")
        for sub in ("entries", "locks", "trash"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        # The Cache Directory Tagging convention: backups, and fpga-flow's own walks over
        # run folders, skip what holds this file.
        tag = self.folder / CACHE_TAG_NAME
        if not tag.exists():
            tag.write_text(CACHE_TAG, encoding="utf-8")

    def _entry_dir(self, key: str) -> Path:
        return self.folder / "entries" / key

    def _lock(self, key: str) -> _KeyLock:
        return _KeyLock(self.folder / "locks" / f"{key}.lock")

    def _manifest(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads((self._entry_dir(key) / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def _touch(self, key: str) -> None:
        # st_atime is unreliable (relatime, noatime): the manifest's mtime is the last use.
        with contextlib.suppress(FileNotFoundError):
            os.utime(self._entry_dir(key) / MANIFEST)

    @contextlib.contextmanager
    def read(self, key: str) -> Iterator[CacheEntry | None]:
        """The entry for ``key`` (None when there is none), held against eviction while
        the block runs. Waits while another process is writing that key."""
        lock = self._lock(key)
        lock.acquire(fcntl.LOCK_SH)
        try:
            manifest = self._manifest(key)
            if manifest is not None:
                self._touch(key)
            yield None if manifest is None else CacheEntry(key, self._entry_dir(key), manifest, hit=True)
        finally:
            lock.release()

    @contextlib.contextmanager
    def get_or_create(self, key: str, kind: str, create: Callable[[Path], dict[str, Any]]) -> Iterator[CacheEntry]:
        """The entry for ``key``, made by ``create(payload_dir) -> meta`` when there is
        none (``meta`` must be JSON; files go into ``payload_dir``). Held against
        eviction while the block runs; ``entry.hit`` says whether it already existed."""
        lock = self._lock(key)
        created = False
        try:
            while True:
                lock.acquire(fcntl.LOCK_SH)
                manifest = self._manifest(key)
                if manifest is None:
                    lock.acquire(fcntl.LOCK_EX)
                    if self._manifest(key) is None:
                        self._create(key, kind, create)
                        created = True
                    # Back to shared so readers of this key need not wait for our block.
                    lock.acquire(fcntl.LOCK_SH)
                    manifest = self._manifest(key)
                if manifest is not None:  # None: evicted while the lock was converted
                    break
                lock.release()
            self._touch(key)
            yield CacheEntry(key, self._entry_dir(key), manifest, hit=not created)
        finally:
            lock.release()
        if created:
            self.evict(keep={key})

    def _create(self, key: str, kind: str, create: Callable[[Path], dict[str, Any]]) -> None:
        folder = self._entry_dir(key)
        if folder.exists():  # what a killed writer left: never complete, never read
            self._discard(folder)
        payload = folder / f"payload-{uuid.uuid4().hex[:12]}"
        payload.mkdir(parents=True)
        try:
            meta = create(payload)
            if not any(payload.iterdir()):
                payload.rmdir()
            manifest = {
                "key": key, "kind": kind, "created_utc": _utc(time.time()),
                "payload": payload.name if payload.exists() else None,
                "bytes": _tree_bytes(folder) + len(json.dumps(meta, default=_json_default)), "meta": meta,
            }
            rundir.write_json_atomic(folder / MANIFEST, manifest)
        except BaseException:
            self._discard(folder)
            raise

    def _discard(self, folder: Path) -> None:
        """Move ``folder`` out of ``entries/`` in one rename, then delete it."""
        trash = self.folder / "trash" / f"{folder.name}-{uuid.uuid4().hex[:8]}"
        try:
            os.replace(folder, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _remove(self, key: str, unfinished_only: bool = False) -> bool:
        """Delete the entry unless someone holds its lock (or, with ``unfinished_only``,
        unless it was finished meanwhile)."""
        lock = self._lock(key)
        if not lock.acquire(fcntl.LOCK_EX, blocking=False):
            return False
        try:
            if unfinished_only and self._manifest(key) is not None:
                return False
            self._discard(self._entry_dir(key))
            lock.path.unlink(missing_ok=True)
        finally:
            lock.release()
        return True

    def _keys(self) -> list[str]:
        return sorted(p.name for p in (self.folder / "entries").iterdir() if p.is_dir())

    def entries(self) -> list[dict[str, Any]]:
        """Manifests of the finished entries, each with ``last_used`` (epoch seconds)."""
        found = []
        for key in self._keys():
            path = self._entry_dir(key) / MANIFEST
            try:
                manifest = json.loads(path.read_text(encoding="utf-8"))
                manifest["last_used"] = path.stat().st_mtime
            except FileNotFoundError:
                continue
            found.append(manifest)
        return found

    def evict(self, max_bytes: int | None = None, keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Delete abandoned entries (and locks of keys never written), then least recently used ones until the cache fits
        ``max_bytes`` (default: the cache's limit). Returns the keys deleted."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        removed = []
        finished = self.entries()
        locked = {path.stem for path in (self.folder / "locks").glob("*.lock")}
        for key in (set(self._keys()) | locked) - {m["key"] for m in finished} - set(keep):
            if self._remove(key, unfinished_only=True):
                removed.append(key)
        total = sum(m["bytes"] for m in finished)
        for manifest in sorted(finished, key=lambda m: m["last_used"]):
            if total <= limit:
                break
            if manifest["key"] not in keep and self._remove(manifest["key"]):
                total -= manifest["bytes"]
                removed.append(manifest["key"])
        return removed

    def clear(self) -> ClearResult:
        """Delete every entry not in use; ``busy`` names those that were."""
        sizes = {m["key"]: m["bytes"] for m in self.entries()}
        removed, freed, busy = 0, 0, []
        for key in self._keys():
            if self._remove(key):
                removed += 1
                freed += sizes.get(key, 0)
            else:
                busy.append(key)
        for leftover in (self.folder / "trash").iterdir():
            shutil.rmtree(leftover, ignore_errors=True)
        return ClearResult(removed, freed, busy)

    def info(self) -> CacheInfo:
        finished = self.entries()
        by_kind: dict[str, dict[str, int]] = {}
        for manifest in finished:
            kind = by_kind.setdefault(manifest["kind"], {"entries": 0, "bytes": 0})
            kind["entries"] += 1
            kind["bytes"] += manifest["bytes"]
        uses = [m["last_used"] for m in finished]
        return CacheInfo(
            self.folder, len(finished), sum(m["bytes"] for m in finished), self.max_bytes, by_kind,
            unfinished=len(self._keys()) - len(finished),
            oldest_use_utc=_utc(min(uses)) if uses else None, newest_use_utc=_utc(max(uses)) if uses else None,
        )


# --------------------------------------------------------------------------- a build's use


