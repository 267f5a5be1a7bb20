"""The router index of this process: built before serving, cached on disk, rebuilt off the message
path when the FAQ content changes.

- `get_index()` returns at once whenever an index exists. When the content changes and validates
  (bot.faq.current() returns a new version), a new index is built in a background thread and
  swapped in; messages are answered with the previous one meanwhile. Content that does not
  validate never triggers a build (bot.faq keeps the last good catalogue).
- Built indexes are pickled under CONTENT_CACHE_DIR (default instance/content-cache), keyed by a
  hash of the FAQ content and of the router's code and libraries, so a restart loads one
  (about a second) instead of building it (several seconds); one process builds while the others
  wait for its file.
- `warm_up()` loads or builds it before the first message: gunicorn.conf.py calls it in the
  master before the workers fork (preload_app), app start-up for `flask run`.
- Issue 12: the index also learns the knowledge-base overlay, examples staff add in the workbench
  (bot.faq.overlay). There is one index per database, and the overlay's version is part of what is
  checked, so a change is built in the background as a file change is, in every process.
"""
from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from functools import lru_cache
import time
from importlib import metadata
from pathlib import Path

from bot import faq
from bot.faq import overlay
from bot.reloading import Reloading, build_once, digest, files_digest

log = logging.getLogger(__name__)
_holders: dict[Path, Reloading] = {}  # outside an app: no database, no overlay
_by_database: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine → {directory: Reloading}
_lock = threading.Lock()
_recent: OrderedDict[str, object] = OrderedDict()  # built indexes by content version, shared by databases
RECENT = 2  # the one in use and the one before it (a new overlay version makes a new index)
LIBRARIES = ("jieba", "scikit-learn", "bm25s", "numpy", "scipy", "pypinyin", "OpenCC", "cn2an")


@lru_cache(maxsize=1)
def code_version() -> str:
    here = Path(__file__).resolve().parent
    code = files_digest(list(here.glob("*.py")) + list(here.glob("*.yaml")))
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(name)
    return digest(code, faq.code_version(), *versions)


def _build(cat, with_overlay: bool = False):
    from bot.nlu.matcher import Index

    index = _recent.get(cat.version)
    if index is None:
        started = time.perf_counter()
        # overlay builds are snapshots of their own family, so they never push the files' index out
        name = f"{'routerkb' if with_overlay else 'router'}-{code_version()[:12]}"
        index = build_once(faq.cache_dir(), name, cat.version, lambda: Index(cat))
        index.load_seconds = time.perf_counter() - started
    with _lock:
        _recent[cat.version] = index
        _recent.move_to_end(cat.version)
        while len(_recent) > RECENT:
            _recent.popitem(last=False)
    return index


def _holder(directory: Path, engine=None) -> Reloading:
    table = _holders if engine is None else _by_database.get(engine)
    holder = table.get(directory) if table is not None else None
    if holder is None:
        with _lock:
            table = _holders if engine is None else _by_database.setdefault(engine, {})
            holder = table.get(directory)
            if holder is None:
                database = weakref.ref(engine) if engine is not None else (lambda: None)  # never keeps an app alive

                def stamp():
                    return faq.current().version, overlay.version(database())

                def build(_stamp):
                    extra = overlay.read(database())
                    return _build(overlay.apply(faq.current(), extra), with_overlay=bool(extra))

                holder = table[directory] = Reloading(
                    f"router {directory}", stamp, build, check_every=faq.store.RELOAD_CHECK_SECONDS,
                    background=True)
    return holder


def get_index():
    """The index for the FAQ directory and the database in use (see the module docstring)."""
    return _holder(faq.faq_dir(), overlay.source()).get()


def ready() -> bool:
    """Is the index for the FAQ directory and the database in use loaded in this process? Until it
    is, routing reads the database (the overlay) on a connection of its own."""
    engine = overlay.source()
    table = _holders if engine is None else _by_database.get(engine)
    holder = table.get(faq.faq_dir()) if table is not None else None
    return holder is not None and holder.peek() is not None


def wait_for_reload(timeout: float = 120.0) -> bool:
    """Wait until a background rebuild (if any) is done; for tests and tools."""
    return _holder(faq.faq_dir(), overlay.source()).wait(timeout)


def wait_for_builds(engine, timeout: float = 60.0) -> bool:
    """Wait for background rebuilds of `engine`'s indexes (a build reads the knowledge-base overlay on
    a connection of its own): before an engine is disposed of, by tests and tools."""
    holders = list((_by_database.get(engine) or {}).values())
    return all([holder.wait(timeout) for holder in holders])


def warm_up() -> float:
    """Load or build the index now; returns the seconds it took."""
    started = time.perf_counter()
    index = get_index()
    seconds = time.perf_counter() - started
    log.info("router ready: %d FAQ entries (content %s) in %.2f s", len(index.targets),
             index.version[:12], seconds)
    return seconds


def init_app(app) -> None:
    """Load the router before `flask run` (and `make run`) serves its first request; gunicorn
    does it in gunicorn.conf.py. Other commands (`flask db upgrade`, tests) do not pay for it."""
    import click

    ctx = click.get_current_context(silent=True)
    if app.testing or ctx is None or ctx.info_name != "run":
        return
    with app.app_context():
        warm_up()
