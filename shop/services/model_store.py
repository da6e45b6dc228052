"""The model store: published model files, the pointer to the current one, and the hot swap.

A retrain saves a new version atomically (:func:`publish`) and re-points ``current.json``; each worker
process keeps the engine it loaded in memory and notices the change on its next look (at most every
``check_interval`` seconds), then swaps the new engine in. Old files beyond ``KEEP_MODELS`` are pruned.
A missing or broken file never takes the site down: the store reports no engine, logs why once, and
callers fall back to popularity.

With a shared store (``SHOP_MODEL_STORE``, :mod:`shop.services.model_blobs`) the folder becomes this
host's copy: :func:`publish` also puts the file into the shared store, and each look first asks the
store for its newest version; a version this host lacks is downloaded once per host (the processes
take turns through a lock file), checked against its sha256, and only then pointed to. While the
shared store does not answer, the host keeps serving its local copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from shop.services.model_blobs import BlobStore, ModelStoreError, StoredModel

log = logging.getLogger(__name__)

POINTER_FILE = "current.json"
MODEL_PREFIX = "model-"
MODEL_SUFFIX = ".joblib"
#: Model files kept on disk (the current one is always kept): enough to roll back by hand.
KEEP_MODELS = 5
LOCK_FILE = ".download.lock"


@dataclass(frozen=True)
class ModelStatus:
    """What the model page and the health check say about the served model."""

    loaded: bool
    version: str | None
    path: str | None
    trained_at: datetime | None
    error: str | None
    metadata: dict[str, Any]


class RecommenderStore:
    """The published model as one process sees it: loaded once, swapped when the pointer moves."""

    def __init__(
        self,
        model_dir: str | Path,
        check_interval: float = 5.0,
        shared: BlobStore | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.check_interval = check_interval
        self.shared = shared
        self._shared_warned: str | None = None
        self._refused: StoredModel | None = None  # a version whose download was refused
        self._lock = threading.Lock()
        self._engine = None
        self._version: str | None = None
        self._path: str | None = None
        self._stamp: tuple | None = None
        self._error: str | None = None
        self._warned: str | None = None  # the fallback warning last logged, so each is logged once
        self._checked_at = 0.0

    @property
    def pointer(self) -> Path:
        return self.model_dir / POINTER_FILE

    def read_pointer(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.pointer.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(f"unreadable model pointer {self.pointer.name}: {exc}") from exc

    def write_pointer(self, path: Path, version: str, sha256: str | None = None) -> None:
        """Point every worker at a new model file (atomic rename)."""
        self.model_dir.mkdir(parents=True, exist_ok=True)
        pointer = {"path": Path(path).name, "version": version}
        if sha256:
            pointer["sha256"] = sha256
        handle, tmp = tempfile.mkstemp(prefix=".current.", suffix=".tmp", dir=self.model_dir)
        with os.fdopen(handle, "w") as stream:
            stream.write(json.dumps(pointer))
        os.replace(tmp, self.pointer)  # a temp file per writer: two processes never share one
        self._checked_at = 0.0

    def get(self):
        """The current engine, or ``None`` when no usable model exists (callers fall back)."""
        now = time.monotonic()
        if now - self._checked_at < self.check_interval:
            return self._engine
        with self._lock:
            if now - self._checked_at < self.check_interval:
                return self._engine
            self._checked_at = now
            self._refresh()
            return self._engine

    def loadable(self) -> bool:
        """Look at the model folder now and say whether a model loads, without the fallback warning.

        For callers that only ask (``flask train --if-missing`` on a fresh clone is about to train):
        "Recommendations fall back to popularity" there would warn about the state it is fixing. A
        page that later finds no model still logs it.
        """
        with self._lock:
            self._checked_at = time.monotonic()
            self._refresh(warn=False)
            return self._engine is not None

    @property
    def shared_error(self) -> str | None:
        """Why the last look at the shared store failed (the host serves its copy), or None."""
        return self._shared_warned

    @property
    def version(self) -> str | None:
        """The version of the engine the last get() returned (no refresh, no copying)."""
        return self._version

    def _refresh(self, warn: bool = True) -> None:
        from shop.recommend import HybridRecommender, ModelLoadError

        if self.shared is not None:
            self._follow_shared(warn)
        try:
            pointer = self.read_pointer()
        except ValueError as exc:
            self._fail(str(exc), warn)
            return
        if pointer is None:
            self._fail(f"no trained model in {self.model_dir.name}/ yet; run `flask train`", warn)
            return
        path = self.model_dir / str(pointer.get("path", ""))
        try:
            stat = path.stat()
        except OSError:
            self._fail(f"model file {path.name} is missing", warn)
            return
        stamp = (str(path), stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp and self._engine is not None:
            return
        try:
            engine = HybridRecommender.load(path)
        except ModelLoadError as exc:
            self._fail(f"model file {path.name} could not be loaded: {exc}", warn)
            self._stamp = stamp
            return
        self._engine = engine
        self._version = str(pointer.get("version") or engine.metadata_.get("model_version") or "")
        self._path = str(path)
        self._stamp = stamp
        if self._warned:
            log.info("Recommendation model %s loaded; personalised lists are back", self._version)
        self._error = self._warned = None

    def _follow_shared(self, warn: bool) -> None:
        """Bring this host's copy up to the shared store's newest version, if it is not there yet.

        Any trouble (store unreachable, a download that does not match its sha256) is logged once
        and leaves the local pointer as it was, so the host goes on serving what it has.
        """
        head = None
        try:
            head = self.shared.head()
            if head is not None and head == self._refused:
                return  # already refused (logged); wait for the next publish
            if head is not None and not self._have(head):
                path = self._download(head)
                self.write_pointer(path, head.version, head.sha256)
                prune_models(self.model_dir, current=path)
                log.info("Model %s copied from the %s model store", head.version, self.shared.name)
        except Exception as exc:  # noqa: BLE001 - any failure here must leave the site serving
            message = f"the {self.shared.name} model store: {exc}"
            if warn and message != self._shared_warned:
                log.warning("Serving this host's copy of the model; %s", message)
            self._shared_warned = message
            if isinstance(exc, ModelStoreError) and head is not None:
                self._refused = head  # not fetched again every few seconds by every process
            return
        self._shared_warned = None

    def _have(self, head: StoredModel) -> bool:
        """True when the local pointer already names ``head`` and its file is here."""
        try:
            pointer = self.read_pointer()
        except ValueError:
            return False
        return (
            pointer is not None
            and pointer.get("version") == head.version
            and (self.model_dir / str(pointer.get("path", ""))).is_file()
        )

    def _download(self, head: StoredModel) -> Path:
        """The file of ``head`` in this host's folder, fetched once and checked against its sha256."""
        self.model_dir.mkdir(parents=True, exist_ok=True)
        target = self.model_dir / f"{MODEL_PREFIX}{head.version}{MODEL_SUFFIX}"
        with _host_lock(self.model_dir / LOCK_FILE):
            if target.is_file() and file_sha256(target) == head.sha256:
                return target  # another process of this host fetched it while we waited
            handle, temp_name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".part", dir=self.model_dir
            )
            os.close(handle)
            temp = Path(temp_name)
            try:
                self.shared.fetch(head, temp)
                digest = file_sha256(temp)
                if digest != head.sha256:
                    raise ModelStoreError(
                        f"model {head.version} arrived with sha256 {digest[:12]}..., "
                        f"not the published {head.sha256[:12]}...; not swapped in"
                    )
                os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
        return target

    def _fail(self, message: str, warn: bool = True) -> None:
        if warn and message != self._warned:
            log.warning("Recommendations fall back to popularity: %s", message)
            self._warned = message
        self._error = message
        self._engine = None
        self._version = None
        self._path = None
        self._stamp = None

    def status(self) -> ModelStatus:
        engine = self.get()
        meta = dict(getattr(engine, "metadata_", {}) or {}) if engine is not None else {}
        return ModelStatus(
            loaded=engine is not None,
            version=self._version,
            path=self._path,
            trained_at=_when(meta.get("trained_at")),
            error=self._error,
            metadata=meta,
        )

    def invalidate(self) -> None:
        """Look at the model folder again on the next request."""
        self._checked_at = 0.0


def _when(value: Any) -> datetime | None:
    """The engine's ISO ``trained_at`` as a datetime, so pages format it like their other dates."""
    try:
        when = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return when.astimezone(UTC) if when is not None and when.tzinfo else when


@contextmanager
def _host_lock(path: Path) -> Iterator[None]:
    """An exclusive lock file, so the processes of one host download a version once, in turn."""
    with open(path, "a") as stream:  # closing the file lets go of the lock
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no flock here: each process fetches its own copy
            yield
            return
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX)
        yield


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_version(n_interactions: int = 0) -> str:
    """A unique, sortable model version: UTC time to the second plus a short hash."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{time.time_ns()}:{uuid.uuid4()}:{n_interactions}".encode())
    return f"{stamp}-{digest.hexdigest()[:8]}"


def model_files(model_dir: Path) -> list[Path]:
    """Published model files, oldest first."""
    if not model_dir.is_dir():
        return []
    files = [p for p in model_dir.glob(f"{MODEL_PREFIX}*{MODEL_SUFFIX}") if p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def prune_models(
    model_dir: Path, keep: int = KEEP_MODELS, current: Path | None = None
) -> list[Path]:
    """Delete all but the newest ``keep`` model files (never the current one); returns what went."""
    files = model_files(model_dir)
    doomed = [p for p in files[: max(0, len(files) - keep)] if current is None or p != current]
    for path in doomed:
        try:
            path.unlink()
        except OSError as exc:  # another worker may be reading it on a platform that forbids this
            log.warning("could not delete old model file %s: %s", path.name, exc)
    return doomed


def publish(engine, store: RecommenderStore, n_interactions: int = 0) -> tuple[str, Path]:
    """Save ``engine`` as a new version, check it reads back, point every worker at it, prune.

    Returns the version and the file. Until the pointer moves nothing the site serves changes: a
    failure before then removes the new file and re-raises, and the previous model keeps serving.
    With a shared store the file goes into it (all or nothing) before the local pointer moves, so
    the other hosts follow within their check interval; old versions are pruned there too.
    """
    from shop.recommend import HybridRecommender

    store.model_dir.mkdir(parents=True, exist_ok=True)
    version = new_version(n_interactions)
    path = store.model_dir / f"{MODEL_PREFIX}{version}{MODEL_SUFFIX}"
    engine.metadata_["model_version"] = version
    try:
        engine.save(path)  # atomic: a temp file, fsync, then rename
        HybridRecommender.load(path)  # refuse to publish a file that does not read back
        digest = file_sha256(path)
        if store.shared is not None:
            store.shared.put(version, path, digest)
        store.write_pointer(path, version, digest)
    except BaseException:
        path.unlink(missing_ok=True)  # never leave an unpublished file behind
        raise
    prune_models(store.model_dir, current=path)
    if store.shared is not None:
        try:
            store.shared.prune(KEEP_MODELS)
        except Exception:  # noqa: BLE001 - the model is published; pruning waits for the next one
            log.exception("could not prune old models in the %s model store", store.shared.name)
    return version, path


def has_loadable_model(app: Flask) -> bool:
    """True when the pointer names a model file that loads (what ``train --if-missing`` checks)."""
    return app.extensions["recommender_store"].loadable()


def store() -> RecommenderStore:
    """This process's store (made by the app factory)."""
    return current_app.extensions["recommender_store"]


def current_engine():
    """The engine every page of this process asks, or None when no usable model is published."""
    return store().get()
