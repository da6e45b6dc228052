"""Where published model files are shared between hosts: the database, or object storage by URL.

One setting, ``SHOP_MODEL_STORE``, picks the store. ``local`` (the default) shares nothing: the
model folder on this host is all there is, right for one box. ``database`` keeps every published
version in the shop's own database (``model_versions`` and its ``model_chunks``), so hosts that
share the database share the models with nothing else to run. A URL (``file:///srv/shop-models``,
``s3://bucket/models``, ``gs://...``) keeps them in that folder or bucket through fsspec; ``s3`` and
``gs`` need the optional ``s3fs`` / ``gcsfs`` packages (the ``s3`` and ``gcs`` extras).

Every store answers the same four questions: publish this file as the newest version (atomically:
until it returns, no reader sees the version), which version is newest (a small read every host
makes every few seconds), copy that version's bytes into a local file, and prune old versions. The
hosts' side (local copy, sha256 check, swap) is :mod:`shop.services.model_store`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine, delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

#: Bytes per stored chunk: small enough for any statement, few enough rows for a big model.
CHUNK_BYTES = 4 * 1024 * 1024
POINTER_NAME = "current.json"


class ModelStoreError(RuntimeError):
    """The shared store could not be read or written (unreachable, or holding something unusable)."""


@dataclass(frozen=True)
class StoredModel:
    """The newest published version as the shared store describes it."""

    version: str
    sha256: str
    size: int
    created_at: datetime | None = None


class BlobStore(Protocol):
    """What the hosts need from a shared model store."""

    name: str

    def put(self, version: str, path: Path, sha256: str) -> StoredModel:
        """Store the file at ``path`` as ``version`` and make it the newest, all or nothing."""
        ...

    def head(self) -> StoredModel | None:
        """The newest complete version, or None when nothing was published yet."""
        ...

    def fetch(self, model: StoredModel, target: Path) -> None:
        """Write the bytes of ``model`` to ``target`` (the caller checks them)."""
        ...

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` versions; return the versions deleted."""
        ...


def open_blob_store(setting: str, database_url: str, sqlite_timeout_ms: int = 15000):
    """The store ``SHOP_MODEL_STORE`` names, or None for ``local`` (nothing shared).

    Raises ValueError for a setting that cannot work, at start-up rather than at the first publish.
    """
    value = (setting or "local").strip()
    if value.lower() == "local":
        return None
    if value.lower() == "database":
        return DatabaseBlobStore(database_url, sqlite_timeout_ms=sqlite_timeout_ms)
    if "://" in value:
        return FsspecBlobStore(value)
    raise ValueError(
        f"SHOP_MODEL_STORE must be 'local', 'database' or a URL such as file:///srv/shop-models "
        f"or s3://bucket/models, got {setting!r}"
    )


class DatabaseBlobStore:
    """Model versions in the shop's database: a row per version, the file in chunks beside it.

    It has an engine of its own without a pool: a poll every few seconds opens one short
    connection, so the web requests' pool and their transactions (SQLite's ``BEGIN IMMEDIATE``
    for a POST) are never involved, and nothing is left open when a process ends.
    """

    name = "database"

    def __init__(self, database_url: str, sqlite_timeout_ms: int = 15000) -> None:
        if database_url.startswith("sqlite") and (
            database_url in ("sqlite://", "sqlite:///:memory:") or ":memory:" in database_url
        ):
            raise ValueError(
                "SHOP_MODEL_STORE=database needs a database every process can open, "
                "not an in-memory SQLite database"
            )
        connect_args: dict[str, Any] = {}
        if database_url.startswith("sqlite"):
            connect_args["timeout"] = sqlite_timeout_ms / 1000
        self.engine: Engine = create_engine(
            database_url, poolclass=NullPool, connect_args=connect_args
        )

    def put(self, version: str, path: Path, sha256: str) -> StoredModel:
        from shop.models import ModelChunk, ModelVersion

        size = path.stat().st_size
        created = datetime.now(UTC)
        chunks = max(1, -(-size // CHUNK_BYTES))
        # One transaction: the version row is invisible to every reader until the last chunk is in.
        with self.engine.begin() as conn, path.open("rb") as stream:
            version_id = conn.execute(
                insert(ModelVersion)
                .values(
                    version=version,
                    sha256=sha256,
                    size=size,
                    chunk_count=chunks,
                    created_at=created,
                )
                .returning(ModelVersion.id)
            ).scalar_one()
            for seq in range(chunks):
                conn.execute(
                    insert(ModelChunk).values(
                        version_id=version_id, seq=seq, data=stream.read(CHUNK_BYTES)
                    )
                )
        return StoredModel(version, sha256, size, created)

    def head(self) -> StoredModel | None:
        from shop.models import ModelVersion

        query = select(
            ModelVersion.version, ModelVersion.sha256, ModelVersion.size, ModelVersion.created_at
        )
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(ModelVersion.id.desc()).limit(1)).first()
        return StoredModel(*row) if row is not None else None

    def fetch(self, model: StoredModel, target: Path) -> None:
        from shop.models import ModelChunk, ModelVersion

        with self.engine.connect() as conn, target.open("wb") as out:
            row = conn.execute(
                select(ModelVersion.id, ModelVersion.chunk_count).where(
                    ModelVersion.version == model.version
                )
            ).first()
            if row is None:
                raise ModelStoreError(f"model {model.version} was pruned from the store")
            version_id, chunk_count = row
            for seq in range(chunk_count):  # one chunk in memory at a time
                data = conn.execute(
                    select(ModelChunk.data).where(
                        ModelChunk.version_id == version_id, ModelChunk.seq == seq
                    )
                ).scalar_one_or_none()
                if data is None:
                    raise ModelStoreError(f"model {model.version} lacks chunk {seq}")
                out.write(data)

    def prune(self, keep: int) -> list[str]:
        from shop.models import ModelChunk, ModelVersion

        with self.engine.begin() as conn:
            rows = conn.execute(
                select(ModelVersion.id, ModelVersion.version).order_by(ModelVersion.id.desc())
            ).all()
            doomed = rows[max(1, keep) :]
            if doomed:
                ids = [row.id for row in doomed]
                # Chunks first: SQLite enforces the cascade only with foreign keys switched on.
                conn.execute(delete(ModelChunk).where(ModelChunk.version_id.in_(ids)))
                conn.execute(delete(ModelVersion).where(ModelVersion.id.in_(ids)))
        return [row.version for row in doomed]

    def versions(self) -> list[str]:
        """Every stored version, newest first."""
        from shop.models import ModelVersion

        with self.engine.connect() as conn:
            return list(conn.scalars(select(ModelVersion.version).order_by(ModelVersion.id.desc())))


class FsspecBlobStore:
    """Model files in a folder or bucket by URL, with a small ``current.json`` naming the newest.

    The file goes up first under its own name, then the pointer is replaced (written aside and
    moved: a rename on a folder, a single PUT on object storage), so a reader that sees the new
    pointer always finds the whole file.
    """

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec is a dependency
            raise ValueError("a model store URL needs the fsspec package") from exc
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url.rstrip("/"))
        except (ImportError, ValueError) as exc:
            raise ValueError(
                f"SHOP_MODEL_STORE={url!r} cannot be opened: {exc} "
                "(s3:// needs the 's3' extra, gs:// the 'gcs' extra)"
            ) from exc
        self.name = url

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    @staticmethod
    def _file_name(version: str) -> str:
        return f"model-{version}.joblib"

    def put(self, version: str, path: Path, sha256: str) -> StoredModel:
        created = datetime.now(UTC)
        size = path.stat().st_size
        self.fs.makedirs(self.root, exist_ok=True)
        self.fs.put_file(str(path), self._path(self._file_name(version)))
        pointer = {
            "version": version,
            "sha256": sha256,
            "size": size,
            "created_at": created.isoformat(),
            "path": self._file_name(version),
        }
        aside = self._path(f".{POINTER_NAME}.{uuid.uuid4().hex}")
        self.fs.pipe_file(aside, json.dumps(pointer).encode())
        self.fs.mv(aside, self._path(POINTER_NAME))
        return StoredModel(version, sha256, size, created)

    def head(self) -> StoredModel | None:
        try:
            raw = self.fs.cat_file(self._path(POINTER_NAME))
        except FileNotFoundError:
            return None
        try:
            pointer = json.loads(raw)
            created = pointer.get("created_at")
            return StoredModel(
                str(pointer["version"]),
                str(pointer["sha256"]),
                int(pointer["size"]),
                datetime.fromisoformat(created) if created else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelStoreError(f"unreadable {POINTER_NAME} in {self.name}: {exc}") from exc

    def fetch(self, model: StoredModel, target: Path) -> None:
        try:
            self.fs.get_file(self._path(self._file_name(model.version)), str(target))
        except FileNotFoundError as exc:
            raise ModelStoreError(f"model {model.version} is missing from {self.name}") from exc

    def versions(self) -> list[str]:
        """Every stored version, newest first (versions start with their UTC time)."""
        try:
            names = [Path(p).name for p in self.fs.ls(self.root, detail=False)]
        except FileNotFoundError:
            return []
        found = [n[len("model-") : -len(".joblib")] for n in names if n.startswith("model-")]
        return sorted((v for v in found if v), reverse=True)

    def prune(self, keep: int) -> list[str]:
        current = self.head()
        versions = self.versions()
        doomed = [v for v in versions[max(1, keep) :] if current is None or v != current.version]
        for version in doomed:
            with contextlib.suppress(FileNotFoundError):  # another host pruned it first
                self.fs.rm_file(self._path(self._file_name(version)))
        return doomed
