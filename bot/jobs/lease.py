"""The scheduler lease: one row (holder, expiry) that one process holds, so jobs never run N times.

Every gunicorn worker, cron line or second machine may try; only the holder of an unexpired
lease runs jobs. The holder renews it on every tick and before every job; if it stops (crash,
machine gone), another process takes over once it has expired (JOBS_LEASE_SECONDS).
The row lives in the KeyValue table (key "jobs:scheduler-lease", value = holder).
"""
from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.clock import aware, now
from bot.models import KeyValue
from bot.storage import write_transaction

KEY = "jobs:scheduler-lease"


def new_holder() -> str:
    """A name unique to this scheduler: host, process and a random part (two in one process differ)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Lease:
    holder: str
    expires_at: datetime


def current(session) -> Lease | None:
    row = session.get(KeyValue, KEY)
    return None if row is None or row.expires_at is None else Lease(row.value, aware(row.expires_at))


def acquire(session, holder: str, seconds: int) -> bool:
    """Take or renew the lease for `seconds`; False while another holder's lease has not expired.

    Commits (the lease must be visible to the others at once). On PostgreSQL the row is locked
    FOR UPDATE; two first-ever INSERTs race into the primary key, and the loser backs off.
    """
    write_transaction(session)
    row = session.scalars(select(KeyValue).where(KeyValue.key == KEY).with_for_update()).first()
    moment = now()
    if row is not None and row.value != holder and row.expires_at and aware(row.expires_at) > moment:
        session.rollback()
        return False
    until = moment + timedelta(seconds=seconds)
    if row is None:
        try:
            with session.begin_nested():
                session.add(KeyValue(key=KEY, value=holder, expires_at=until))
        except IntegrityError:
            session.rollback()
            return False
    else:
        row.value, row.expires_at = holder, until
    session.commit()
    return True


def release(session, holder: str) -> None:
    """Give the lease up (only our own), so the next tick need not wait for it to expire."""
    write_transaction(session)
    session.execute(delete(KeyValue).where(KeyValue.key == KEY, KeyValue.value == holder))
    session.commit()
