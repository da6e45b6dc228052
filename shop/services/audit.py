"""The audit log of admin actions: who did what, when, and the record before and after.

Every admin write calls :func:`record` in the transaction of the change it describes, so an action
and its entry are committed (or rolled back) together. Nothing in the web interface edits or deletes
an entry; :func:`entries_query` is the one read the admin area pages through.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.models import AuditEntry

MAX_SUMMARY = 255


def snapshot(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named attributes of a row as JSON-friendly values (money as text, dates as ISO)."""
    return {name: _plain(getattr(row, name)) for name in fields}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields whose value differs (what an edit really did)."""
    return {key: after[key] for key in after if before.get(key) != after[key]}


def record(
    action: str,
    target_type: str,
    target_id: int | None,
    summary: str = "",
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor: Any = None,
) -> AuditEntry:
    """Add one entry for the signed-in admin (or ``actor``) in the current transaction."""
    if actor is None and current_user and current_user.is_authenticated:
        actor = current_user
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        summary=summary[:MAX_SUMMARY],
        before={k: _plain(v) for k, v in before.items()} if before is not None else None,
        after={k: _plain(v) for k, v in after.items()} if after is not None else None,
    )
    db.session.add(entry)
    return entry


def entries_query(
    action_prefix: str | None = None, target_type: str | None = None, target_id: int | None = None
) -> Select:
    """Entries newest first, optionally for one kind of action or one record (for db.paginate)."""
    query = select(AuditEntry).options(joinedload(AuditEntry.actor))
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    return query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
