"""The FAQ content in use by this process: loaded once, reloaded when a file changes, and the last
good version kept on disk so a process that starts with broken content still answers.

`current()` is for the message path (files looked at no more than every 2 s); `catalogue()`
always looks. A change that does not validate is refused once (logged with the reason) and the
previous content stays in use; a process that starts with content that does not validate, or
that is out of step with the topics contract, serves the last good snapshot and logs loudly.
"""
from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

from bot.faq import loader
from bot.faq.loader import Catalogue, FaqError, cache_dir, content_files, faq_dir
from bot.faq.render import check_pages, render_pages
from bot.reloading import Reloading, files_digest, latest_snapshot, save_snapshot

log = logging.getLogger(__name__)
SNAPSHOT = "faq"
_holders: dict[Path, Reloading[Catalogue]] = {}
_holders_lock = threading.Lock()


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the code that turns the files into objects: a snapshot made by other code is
    never loaded."""
    here = Path(__file__).resolve().parent
    return files_digest(list(here.glob("*.py")) + [here.parent / "reloading.py"])


def _stamp(directory: Path) -> tuple:
    out = []
    for path in content_files(directory):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(sorted(out))


def _holder(directory: Path) -> Reloading[Catalogue]:
    holder = _holders.get(directory)
    if holder is None:
        with _holders_lock:
            holder = _holders.get(directory)
            if holder is None:
                holder = _holders[directory] = _make_holder(directory, cache_dir())
    return holder


def _make_holder(directory: Path, snapshots: Path | None) -> Reloading[Catalogue]:
    name = f"{SNAPSHOT}-{code_version()[:12]}"

    def build(_stamp) -> Catalogue:
        cat = load(directory)
        save_snapshot(snapshots, name, cat.version, cat)
        return cat

    def last_good(exc: Exception) -> Catalogue | None:
        if not isinstance(exc, FaqError):
            return None
        cat = latest_snapshot(snapshots, name, lambda c: isinstance(c, Catalogue)
                              and Path(c.directory) == directory)
        if cat is not None:
            log.critical("FAQ content in %s does not validate (%s). Serving the last good content "
                         "(version %s) from %s until it is fixed; `flask faq load` shows the "
                         "problem.", directory, exc, cat.version[:12], snapshots)
        return cat

    return Reloading(f"FAQ content {directory}", lambda: _stamp(directory), build,
                     check_every=RELOAD_CHECK_SECONDS, fallback=last_good)


RELOAD_CHECK_SECONDS = 2.0  # how often answering looks at the files' mtimes (not per message)


def catalogue(directory: str | os.PathLike | None = None) -> Catalogue:
    """The loaded content, reloaded when a file changes (the last good content if it breaks)."""
    holder = _holder(Path(directory) if directory else faq_dir())
    holder._checked = 0.0                   # look at the files now
    return holder.get()


def current() -> Catalogue:
    """catalogue() for the message path: the files are looked at no more than every 2 s."""
    return _holder(faq_dir()).get()


def entry(faq_id: str):
    try:
        return current().entries[faq_id]
    except KeyError:
        raise KeyError(f"no FAQ entry {faq_id!r}") from None


def title(faq_id: str) -> str:
    return entry(faq_id).title


def all_entries() -> list:
    return list(current().entries.values())


def load(directory: str | os.PathLike | None = None) -> Catalogue:
    """Read and validate the FAQ directory, every rendered page included (`flask faq load`, reloads).
    Raises FaqError on the first problem."""
    cat = loader.load(directory)
    check_pages(cat)
    return cat


def render(faq_id: str, traditional: bool = False, question: str | None = None) -> list[str]:
    """The current content's answer as page bodies (bot.faq.render.render_pages)."""
    return render_pages(current(), faq_id, traditional=traditional, question=question)


def render_text(faq_id: str, cat: Catalogue | None = None, question: str | None = None) -> str:
    from bot.faq.render import render_text as text_of

    return text_of(faq_id, cat or current(), question=question)
