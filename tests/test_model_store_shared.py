"""Models shared without a shared folder: the database store and a folder by URL (fsspec).

Each test runs against the test run's own database (a migrated SQLite file, or PostgreSQL in the
PostgreSQL run), so the database store's chunks are SQLite blobs in one run and bytea in the other.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shop import create_app
from shop.extensions import db
from shop.models import ModelChunk, ModelVersion
from shop.services import model_blobs, model_store
from shop.services.model_blobs import (
    DatabaseBlobStore,
    FsspecBlobStore,
    ModelStoreError,
    open_blob_store,
)
from shop.training.runs import train_and_publish
from tests.conftest import _test_config
from tests.test_training import build_small_shop

KINDS = ["database", "file"]


def make_store(kind: str, app, tmp_path: Path):
    if kind == "database":
        return open_blob_store("database", app.config["SQLALCHEMY_DATABASE_URI"])
    return open_blob_store(f"file://{tmp_path / 'bucket'}", "")


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("kind", KINDS)
def test_versions_go_in_whole_come_back_byte_for_byte_and_old_ones_are_pruned(
    app, tmp_path, kind, monkeypatch
):
    monkeypatch.setattr(model_blobs, "CHUNK_BYTES", 1000)  # several chunks per file
    store = make_store(kind, app, tmp_path)
    assert store.head() is None
    payloads = {}
    for n, version in enumerate(["20260101T000000Z-a", "20260102T000000Z-b", "20260103T000000Z-c"]):
        data = bytes(range(256)) * (10 + n) + version.encode()
        payloads[version] = data
        store.put(version, tmp_path / "upload", write(tmp_path / "upload", data))

    head = store.head()
    assert head.version == "20260103T000000Z-c"
    assert head.sha256 == hashlib.sha256(payloads[head.version]).hexdigest()
    assert head.size == len(payloads[head.version])
    store.fetch(head, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == payloads[head.version]

    assert store.prune(keep=2) == ["20260101T000000Z-a"]
    assert store.versions() == ["20260103T000000Z-c", "20260102T000000Z-b"]
    with pytest.raises(ModelStoreError):
        store.fetch(model_blobs.StoredModel("20260101T000000Z-a", "", 0), tmp_path / "gone")
    if kind == "database":
        with db.engine.connect() as conn:  # the pruned version's chunks went with it
            chunks = conn.scalar(select(func.count()).select_from(ModelChunk))
        assert chunks == sum(-(-len(payloads[v]) // 1000) for v in store.versions())


class _BreaksMidway:
    """A model file whose second read fails, as a full disk or a killed process would."""

    def __init__(self, path: Path):
        self.path = path

    def stat(self):
        return self.path.stat()

    def open(self, mode: str):
        stream = self.path.open(mode)
        reads = iter([False, True])

        class Stream:
            def read(self, n):
                if next(reads, True):
                    raise OSError("disk went away")
                return stream.read(n)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                stream.close()

        return Stream()


def test_a_publish_that_fails_midway_leaves_no_trace_and_the_previous_version_current(
    app, tmp_path, monkeypatch
):
    monkeypatch.setattr(model_blobs, "CHUNK_BYTES", 100)
    store = make_store("database", app, tmp_path)
    store.put("20260101T000000Z-ok", tmp_path / "ok", write(tmp_path / "ok", b"x" * 250))
    sha = write(tmp_path / "big", b"y" * 1000)

    with pytest.raises(OSError, match="disk went away"):
        store.put("20260102T000000Z-half", _BreaksMidway(tmp_path / "big"), sha)

    assert store.head().version == "20260101T000000Z-ok"
    assert store.versions() == ["20260101T000000Z-ok"]
    with db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ModelChunk)) == 3


@pytest.mark.parametrize("kind", KINDS)
def test_a_retrain_published_by_one_host_is_copied_checked_and_served_by_another(
    app, tmp_path, kind, caplog
):
    store = make_store(kind, app, tmp_path)
    host_a = model_store.RecommenderStore(tmp_path / "host-a", shared=store)
    app.extensions["recommender_store"] = host_a  # this test's app is host A
    host_b = model_store.RecommenderStore(
        tmp_path / "host-b", check_interval=0, shared=make_store(kind, app, tmp_path)
    )
    assert host_b.get() is None  # nothing published anywhere yet

    build_small_shop()
    run = train_and_publish(app, evaluate=False)
    assert run.status == "succeeded", run.error

    assert store.head().version == run.model_version
    engine = host_b.get()
    assert engine is not None and host_b.version == run.model_version
    copy = tmp_path / "host-b" / f"model-{run.model_version}.joblib"
    assert copy.is_file()
    pointer = host_b.read_pointer()
    assert pointer["version"] == run.model_version
    assert pointer["sha256"] == model_store.file_sha256(copy) == store.head().sha256

    # A version whose bytes do not match its sha256 is never swapped in: B keeps serving.
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(copy.read_bytes()[:-10] + b"0123456789")
    store.put("29990101T000000Z-bad", bad, model_store.file_sha256(copy))
    with caplog.at_level(logging.WARNING, logger="shop.services.model_store"):
        assert host_b.get() is engine
    assert "not swapped in" in caplog.text
    fetched = []
    real_fetch = host_b.shared.fetch
    host_b.shared.fetch = lambda *args: fetched.append(args) or real_fetch(*args)
    assert host_b.get() is engine
    assert fetched == []  # the refused version is not downloaded again at every look
    assert host_b.version == run.model_version
    assert not (tmp_path / "host-b" / "model-29990101T000000Z-bad.joblib").exists()
    assert not list((tmp_path / "host-b").glob("*.part"))


def test_a_host_keeps_serving_its_copy_while_the_store_does_not_answer(app, tmp_path, caplog):
    folder = tmp_path / "bucket"
    store = open_blob_store(f"file://{folder}", "")
    host = model_store.RecommenderStore(tmp_path / "host", shared=store)
    app.extensions["recommender_store"] = host
    build_small_shop()
    run = train_and_publish(app, evaluate=False)
    assert run.status == "succeeded", run.error

    (folder / "current.json").write_text("{not json")  # the store answers nonsense
    host.invalidate()
    with caplog.at_level(logging.WARNING, logger="shop.services.model_store"):
        assert host.get() is not None
    assert host.version == run.model_version
    assert "Serving this host's copy of the model" in caplog.text
    ready = app.test_client().get("/healthz/ready")
    assert ready.status_code == 200  # degraded, not down: the host still serves its model
    assert "serving this host's copy" in " ".join(ready.get_json()["degraded"])


def test_the_setting_picks_the_store_and_refuses_what_cannot_work(app, tmp_path):
    assert open_blob_store("local", "sqlite://") is None
    with pytest.raises(ValueError, match="SHOP_MODEL_STORE must be"):
        open_blob_store("shared-folder", "sqlite://")
    with pytest.raises(ValueError, match="in-memory SQLite"):
        open_blob_store("database", "sqlite://")
    assert isinstance(open_blob_store(f"file://{tmp_path}/x", ""), FsspecBlobStore)

    config = _test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "other")
    config["SHOP_MODEL_STORE"] = "database"
    other = create_app(config)
    assert isinstance(other.extensions["recommender_store"].shared, DatabaseBlobStore)
    with other.app_context():
        db.engine.dispose()
    # Nothing was published: the tables exist and are empty.
    with db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ModelVersion)) == 0
