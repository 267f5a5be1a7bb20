"""The knowledge-base overlay: examples staff add in the workbench (KbExample rows) merged into the
FAQ content the router learns from, with no file edited by hand and no restart.

- Every change to the overlay calls `bump(session)` in its own transaction: a version row (KeyValue)
  gets a new value.
- `version(engine)` is what the router's index store checks besides the files (bot.nlu.store). A
  background thread reads the row at most every CHECK_SECONDS per process and database; a message
  never waits for that read (only the very first use in a process reads it at once).
- `read(engine)` and `apply(catalogue, overlay)` give the catalogue the index is built from: the
  files' examples plus the overlay's (those not yet exported to faq/*.yaml).
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
import weakref
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.models import KbExample, KeyValue
from bot.reloading import digest

log = logging.getLogger(__name__)
VERSION_KEY = "kb_overlay.version"
CHECK_SECONDS = 2.0  # how stale a process's view of the overlay may be (plus the index rebuild)


@dataclass(frozen=True)
class Overlay:
    """The overlay's examples: (faq_id, text) pairs, and texts marked out of scope."""

    examples: tuple[tuple[str, str], ...] = ()
    out_of_scope: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.examples or self.out_of_scope)

    @property
    def digest(self) -> str:
        return digest(*(f"{faq_id}\t{text}" for faq_id, text in self.examples), "\0", *self.out_of_scope)

    def by_entry(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for faq_id, text in self.examples:
            found.setdefault(faq_id, []).append(text)
        return {faq_id: tuple(texts) for faq_id, texts in found.items()}


# -- the version the router checks --------------------------------------------------------------
def source():
    """The database of the app in use (None outside an app: no overlay, e.g. offline tools)."""
    try:
        from bot.extensions import db

        return db.engine
    except RuntimeError:  # no application context
        return None


def _read_version(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(select(KeyValue.value).where(KeyValue.key == VERSION_KEY)).scalar() or ""


class _Watch:
    """One database's overlay version as this process last read it."""

    def __init__(self) -> None:
        self.value: str | None = None
        self.read_at = 0.0
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def get(self, engine) -> str:
        if self.value is None:  # first use in this process (start-up): read it now
            try:
                self.value = _read_version(engine)
            except SQLAlchemyError as exc:  # e.g. a database not migrated yet: no overlay
                log.warning("knowledge-base overlay: cannot read its version (%s); using none", exc)
                self.value = ""
            self.read_at = time.monotonic()
        elif time.monotonic() - self.read_at >= CHECK_SECONDS:
            with self.lock:
                if self.thread is None or not self.thread.is_alive():
                    self.read_at = time.monotonic()
                    self.thread = threading.Thread(target=self._refresh, args=(engine,), daemon=True,
                                                   name="kb-overlay-version")
                    self.thread.start()
        return self.value

    def _refresh(self, engine) -> None:
        try:
            self.value = _read_version(engine)
        except SQLAlchemyError as exc:  # keep the last value: a passing error must not drop the overlay
            log.warning("knowledge-base overlay: version check failed (%s); keeping %s", exc, self.value)
        self.read_at = time.monotonic()

    def wait(self, timeout: float) -> None:
        thread = self.thread
        if thread is not None:
            thread.join(timeout)


_watches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_watches_lock = threading.Lock()


def _watch(engine) -> _Watch:
    watch = _watches.get(engine)
    if watch is None:
        with _watches_lock:
            watch = _watches.setdefault(engine, _Watch())
    return watch


def wait_for_checks(engine, timeout: float = 10.0) -> None:
    """Wait for a version check of `engine` running in the background (before disposing of it)."""
    watch = _watches.get(engine)
    if watch is not None:
        watch.wait(timeout)


def version(engine) -> str:
    """The overlay version of `engine`'s database as this process knows it ("" for none)."""
    return "" if engine is None else _watch(engine).get(engine)


def check_now(engine, timeout: float = 10.0) -> str:
    """Read the version at once (tools and tests; the message path uses version())."""
    if engine is None:
        return ""
    watch = _watch(engine)
    watch.wait(timeout)
    watch.value, watch.read_at = _read_version(engine), time.monotonic()
    return watch.value


# -- the examples ---------------------------------------------------------------------------------
def read(engine) -> Overlay:
    """The overlay's rows not yet exported to faq/*.yaml, oldest first."""
    if engine is None:
        return Overlay()
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(KbExample.faq_id, KbExample.text).where(KbExample.exported_at.is_(None))
                                .order_by(KbExample.id)).all()
    except SQLAlchemyError as exc:
        log.warning("knowledge-base overlay: cannot read it (%s); building without it", exc)
        return Overlay()
    return Overlay(tuple((f, t) for f, t in rows if f is not None), tuple(t for f, t in rows if f is None))


def apply(cat, overlay: Overlay):
    """The catalogue with the overlay's examples added (its version says so); `cat` itself when
    the overlay is empty. An example for an entry the files no longer have is left out (logged)."""
    if not overlay:
        return cat
    entries = dict(cat.entries)
    for faq_id, texts in overlay.by_entry().items():
        entry = entries.get(faq_id)
        if entry is None:
            log.warning("knowledge-base overlay: no FAQ entry %s any more; its %d example(s) are not used",
                        faq_id, len(texts))
            continue
        new = tuple(t for t in texts if t not in entry.examples)
        entries[faq_id] = entry.model_copy(update={"examples": entry.examples + new})
    out_of_scope = cat.out_of_scope + tuple(t for t in overlay.out_of_scope if t not in cat.out_of_scope)
    return dataclasses.replace(cat, entries=entries, out_of_scope=out_of_scope,
                               version=digest(cat.version, "overlay", overlay.digest))


def bump(session) -> str:
    """Give the overlay a new version, in the caller's transaction (every process picks it up)."""
    value = uuid.uuid4().hex
    row = session.get(KeyValue, VERSION_KEY)
    if row is None:
        try:  # PostgreSQL: a colleague's first change may insert the row at the same moment
            with session.begin_nested():
                session.add(KeyValue(key=VERSION_KEY, value=value))
            return value
        except IntegrityError:
            row = session.get(KeyValue, VERSION_KEY)
    row.value = value
    return value
