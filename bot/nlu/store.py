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
"""
from __future__ import annotations

import logging
import threading
from functools import lru_cache
import time
from importlib import metadata
from pathlib import Path

from bot import faq
from bot.reloading import Reloading, build_once, digest, files_digest

log = logging.getLogger(__name__)
_holders: dict[Path, Reloading] = {}
_lock = threading.Lock()
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


def _build(cat):
    from bot.nlu.matcher import Index

    started = time.perf_counter()
    index = build_once(faq.cache_dir(), f"router-{code_version()[:12]}", cat.version, lambda: Index(cat))
    index.load_seconds = time.perf_counter() - started
    return index


def _holder(directory: Path) -> Reloading:
    holder = _holders.get(directory)
    if holder is None:
        with _lock:
            holder = _holders.get(directory)
            if holder is None:
                def stamp():
                    return faq.current().version

                def build(_version):
                    return _build(faq.current())

                holder = _holders[directory] = Reloading(
                    f"router {directory}", stamp, build, check_every=faq.store.RELOAD_CHECK_SECONDS,
                    background=True)
    return holder


def get_index():
    """The index for the FAQ directory in use (see the module docstring)."""
    return _holder(faq.faq_dir()).get()


def wait_for_reload(timeout: float = 120.0) -> bool:
    """Wait until a background rebuild (if any) is done; for tests and tools."""
    return _holder(faq.faq_dir()).wait(timeout)


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
