"""The WeChat access token in the database, refreshed by one process at a time for all of them.

WeChat allows one valid token per account, so every sender, web worker and CLI command must use
the same one. Whoever finds it missing, expired or refused takes a lock, looks again (another
process may have refreshed it meanwhile) and only then asks WeChat. The lock is a row lock
(SELECT … FOR UPDATE) on PostgreSQL and, on SQLite, a file lock beside the database rather than
SQLite's write lock: the fetch is an HTTP call, and holding the write lock through it would stall
every inbound message for as long as WeChat takes to answer.

force_refresh (a new token, the old one stops working at once) is used only when WeChat refuses a
token and the plain fetch hands back that same token, at most WECHAT_FORCE_REFRESH_PER_DAY times
a Beijing day (WeChat allows 20).
https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/getStableAccessToken.html
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from filelock import FileLock
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import aware, local_now, now
from bot.models import KeyValue
from bot.storage import write_transaction

log = logging.getLogger(__name__)
SKEW = timedelta(seconds=30)  # treat a token as expired this much early: clocks and transit differ
LOCK_TIMEOUT = 60  # seconds; longer than one token fetch can take
_local_locks: dict[str, threading.Lock] = {}  # in-memory SQLite only (one process by definition)


class TokenStore:
    """One access token (KeyValue row `key`) and the day's force_refresh count (`key`:force)."""

    def __init__(self, engine, key: str, force_per_day: int):
        self.engine, self.key, self.force_per_day = engine, key, force_per_day

    def get(self) -> tuple[str, datetime] | None:
        """The stored token and when to stop using it, or None when there is none worth using."""
        with Session(self.engine) as session:
            row = session.get(KeyValue, self.key)
            return _usable(row)

    def refresh(self, fetch: Callable[[bool], dict], stale: str | None = None) -> tuple[str, datetime]:
        """A token other than `stale` (the one WeChat just refused), fetched by one process at a time.
        `fetch(force)` calls WeChat and returns its JSON ({"access_token", "expires_in"})."""
        with self._locked() as session:
            current = _usable(session.get(KeyValue, self.key, populate_existing=True))
            self._checkpoint(session)
            if current is not None and current[0] != stale:
                return current  # another process refreshed it while we waited for the lock
            result = fetch(False)
            if stale is not None and result["access_token"] == stale:
                if self._spend_force(session):
                    log.warning("WeChat refused its own current token; fetching a new one with force_refresh")
                    result = fetch(True)
                else:
                    log.warning("WeChat refused the token and today's %d force refreshes are used up",
                                self.force_per_day)
            return self._store(session, result)

    @contextmanager
    def _locked(self) -> Iterator[Session]:
        with Session(self.engine) as session:
            if self.engine.dialect.name == "sqlite":
                with self._file_lock():
                    yield session
            else:
                self._ensure_row(session)
                session.scalars(select(KeyValue).where(KeyValue.key == self.key).with_for_update()).one()
                yield session
            session.commit()

    def _file_lock(self):
        database = self.engine.url.database
        if database in (None, "", ":memory:") or str(database).startswith("file:"):
            return _local_locks.setdefault(self.key, threading.Lock())
        return FileLock(f"{database}-token.lock", timeout=LOCK_TIMEOUT)

    def _ensure_row(self, session) -> None:
        """PostgreSQL can only lock a row that exists: create an expired placeholder once."""
        if session.get(KeyValue, self.key) is None:
            try:
                with session.begin_nested():
                    session.add(KeyValue(key=self.key, value="", expires_at=now()))
            except IntegrityError:
                pass  # another process created it first
            session.commit()

    def _spend_force(self, session) -> bool:
        write_transaction(session)
        day = local_now().date().isoformat()
        row = session.get(KeyValue, self.key + ":force", populate_existing=True)
        used = int(row.value.split()[1]) if row is not None and row.value.startswith(day) else 0
        if used >= self.force_per_day:
            return False
        if row is None:
            session.add(KeyValue(key=self.key + ":force", value=f"{day} {used + 1}"))
        else:
            row.value = f"{day} {used + 1}"
        self._checkpoint(session)
        return True

    def _checkpoint(self, session) -> None:
        """SQLite: end the transaction now (the file lock keeps other refreshers out, and a read
        transaction must not be upgraded to a write: SQLITE_BUSY_SNAPSHOT). PostgreSQL: stay in
        the transaction that holds the row lock."""
        if self.engine.dialect.name == "sqlite":
            session.commit()
        else:
            session.flush()

    def _store(self, session, result: dict) -> tuple[str, datetime]:
        write_transaction(session)
        value, expires_at = result["access_token"], now() + timedelta(seconds=int(result.get("expires_in", 7200)))
        row = session.get(KeyValue, self.key, populate_existing=True)
        if row is None:
            session.add(KeyValue(key=self.key, value=value, expires_at=expires_at))
        else:
            row.value, row.expires_at = value, expires_at
        session.commit()
        log.info("stored a new WeChat access token, valid until %s", expires_at.isoformat(timespec="seconds"))
        return value, expires_at - SKEW


def _usable(row: KeyValue | None) -> tuple[str, datetime] | None:
    if row is None or not row.value or row.expires_at is None:
        return None
    until = aware(row.expires_at) - SKEW
    return (row.value, until) if until > now() else None
