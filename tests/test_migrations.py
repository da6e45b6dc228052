"""The Alembic revisions build the schema the models describe, and can be undone and redone."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from shop import create_app
from shop.extensions import db
from tests.conftest import _test_config


@pytest.fixture
def empty_app(tmp_path):
    """An app on a brand-new, empty SQLite file."""
    app = create_app(_test_config(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _head() -> str:
    config = current_app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config).get_current_head()


def _current() -> str | None:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_upgrade_on_an_empty_file_creates_every_table_and_reaches_head(empty_app):
    assert _tables() == set()
    upgrade()
    tables = _tables()
    assert {table.name for table in db.metadata.sorted_tables} <= tables
    assert "product_fts" in tables
    assert _current() == _head()


def test_downgrade_to_base_then_upgrade_again(empty_app):
    upgrade()
    downgrade(revision="base")
    assert _tables() <= {"alembic_version"}
    upgrade()
    assert {table.name for table in db.metadata.sorted_tables} <= _tables()
    assert _current() == _head()


def test_models_and_migrations_are_in_step(empty_app):
    upgrade()
    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    # and the check is not vacuous: a schema that drifted from the models is reported
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_events_kind_created")
    drifted = runner.invoke(args=["db", "check"])
    assert drifted.exit_code != 0
