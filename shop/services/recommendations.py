"""The trained recommendation engine as this process sees it.

Each worker process loads the model file once and keeps it in memory. A retrain writes a new file
atomically and re-points ``current.json``; every worker notices the change on its next look (at most
every ``check_interval`` seconds) and swaps the new engine in. A missing or broken file never takes
the site down: the store reports no engine, logs why once, and callers fall back to popularity.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

POINTER_FILE = "current.json"


@dataclass(frozen=True)
class ModelStatus:
    loaded: bool
    version: str | None
    path: str | None
    trained_at: str | None
    error: str | None
    metadata: dict[str, Any]


class RecommenderStore:
    def __init__(self, model_dir: str | Path, check_interval: float = 5.0) -> None:
        self.model_dir = Path(model_dir)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._engine = None
        self._version: str | None = None
        self._path: str | None = None
        self._stamp: tuple | None = None
        self._error: str | None = None
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

    def write_pointer(self, path: Path, version: str) -> None:
        """Point every worker at a new model file (atomic rename)."""
        self.model_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.pointer.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"path": Path(path).name, "version": version}))
        tmp.replace(self.pointer)
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

    def _refresh(self) -> None:
        from shop.recommend import HybridRecommender, ModelLoadError

        try:
            pointer = self.read_pointer()
        except ValueError as exc:
            self._fail(str(exc))
            return
        if pointer is None:
            self._fail(f"no trained model in {self.model_dir.name}/ yet; run `flask train`")
            return
        path = self.model_dir / str(pointer.get("path", ""))
        try:
            stat = path.stat()
        except OSError:
            self._fail(f"model file {path.name} is missing")
            return
        stamp = (str(path), stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp and self._engine is not None:
            return
        try:
            engine = HybridRecommender.load(path)
        except ModelLoadError as exc:
            self._fail(f"model file {path.name} could not be loaded: {exc}")
            self._stamp = stamp
            return
        self._engine = engine
        self._version = str(pointer.get("version") or engine.metadata_.get("model_version") or "")
        self._path = str(path)
        self._stamp = stamp
        if self._error:
            log.info("Recommendation model %s loaded; personalised lists are back", self._version)
        self._error = None

    def _fail(self, message: str) -> None:
        if message != self._error:
            log.warning("Recommendations fall back to popularity: %s", message)
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
            trained_at=meta.get("trained_at"),
            error=self._error,
            metadata=meta,
        )

    def invalidate(self) -> None:
        """Look at the model folder again on the next request."""
        self._checked_at = 0.0
