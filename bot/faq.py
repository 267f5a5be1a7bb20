"""FAQ content: load and validate faq/*.yaml, render answers as WeChat-sized pages.

Content lives in YAML under faq/ (one entry per routing target). It is loaded once per process
and reloaded when any file's mtime changes, so editing an answer needs no code change or
restart. `flask faq load` runs the same validation and prints a summary.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import click
import yaml
from flask.cli import AppGroup

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_FAQ_DIR = PROJECT_DIR / "faq"
DEFAULT_TOPICS = PROJECT_DIR.parent / "shared" / "faq-topics.md"
TARGETS_FILE = "targets.txt"          # committed copy of the ids in faq-topics.md
OUT_OF_SCOPE_FILE = "out_of_scope.yaml"
REGIONS_FILE = "regions.yaml"
USERDICT_FILE = "userdict.txt"
VOCABULARY_FILE = "vocabulary.yaml"   # fixed phrases, bot/vocabulary.py

FAQ_PREFIXES = ("legal.", "home_office.", "union.", "service.")
ROUTING_PREFIXES = FAQ_PREFIXES + ("flow.", "smalltalk.")
NON_ENTRY_TARGETS = {"fallback", "clarify"}

MAX_ANSWER_CHARS = 2000    # a whole answer; at ~300 chars a page this is 6–8 pages
PAGE_CHARS = 300           # faq-topics.md: at most ~300 characters before a continuation
PAGE_BYTES = 2048          # WeChat passive-reply content limit (UTF-8 bytes)
FOOTER_BYTES = 120         # room left on each page for the conversation layer's "（1/3）回复「更多」…"
NEXT_LABELS = {"flow.handoff": "转人工"}  # a shorter reply phrase than the flow title

_PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")
# A unit written right after a placeholder stays attached to the value: {x}元/月 → 2540元/月（…）
_UNIT_RE = r"(?:元|块|天|个月|小时)?(?:/(?:月|小时|天|日))?%?"


class FaqError(Exception):
    """Invalid FAQ content. The message names the file and, where there is one, the entry id."""

    def __init__(self, message: str, file: str | None = None, entry_id: str | None = None):
        where = ": ".join(p for p in (file, f"entry {entry_id}" if entry_id else None) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.entry_id = file, entry_id


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    answer: str | None = None
    basis: str | None = None
    next: tuple[str, ...] = ()
    file: str = ""


@dataclass(frozen=True)
class Region:
    name: str
    values: dict = field(default_factory=dict)   # name → {"value", "valid_from", "source"}


@dataclass(frozen=True)
class Catalogue:
    entries: dict[str, Entry]
    out_of_scope: tuple[str, ...]
    region: Region
    known_ids: frozenset[str]
    userdict: Path | None
    directory: Path
    version: tuple = ()

    @property
    def n_examples(self) -> int:
        return sum(len(e.examples) for e in self.entries.values())


# --------------------------------------------------------------------------- targets

def parse_topics(text: str) -> list[str]:
    """Target ids from the first column of the tables in faq-topics.md, in order."""
    ids = []
    for line in text.splitlines():
        m = re.match(r"\|\s*`?([a-z_]+(?:\.[a-z_]+)?)`?\s*\|", line)
        if m and m.group(1) not in ("id",) and ("." in m.group(1) or m.group(1) == "fallback"):
            ids.append(m.group(1))
    return ids


def topics_path() -> Path:
    return Path(os.environ.get("FAQ_TOPICS", DEFAULT_TOPICS))


def known_targets(directory: Path) -> tuple[frozenset[str], str]:
    """Ids from ../shared/faq-topics.md when present, else the committed faq/targets.txt."""
    topics = topics_path()
    if topics.is_file():
        ids = parse_topics(topics.read_text(encoding="utf-8"))
        if ids:
            return frozenset(ids), str(topics)
    targets = directory / TARGETS_FILE
    if not targets.is_file():
        raise FaqError(f"no list of known ids: neither {topics} nor {targets} exists")
    ids = [ln.split("#")[0].strip() for ln in targets.read_text(encoding="utf-8").splitlines()]
    return frozenset(i for i in ids if i), str(targets)


# --------------------------------------------------------------------------- loading

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)    # libyaml when available

def _read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        raise FaqError(f"not valid YAML ({exc})", file=path.name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FaqError(f"cannot read ({exc})", file=path.name) from None


def _str_list(value, what: str, fname: str, eid: str, required: bool) -> tuple[str, ...]:
    if value is None:
        if required:
            raise FaqError(f"missing required field '{what}'", fname, eid)
        return ()
    if isinstance(value, str) or not isinstance(value, list):
        raise FaqError(f"'{what}' must be a list of strings", fname, eid)
    out = []
    for item in value:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)          # keywords such as 12351 or 996 arrive as numbers
        if not isinstance(item, str) or not item.strip():
            raise FaqError(f"'{what}' must contain only non-empty strings, got {item!r}", fname, eid)
        out.append(item.strip())
    if required and not out:
        raise FaqError(f"'{what}' must not be empty", fname, eid)
    return tuple(out)


def _required_fields(eid: str) -> tuple[str, ...]:
    if eid.startswith("legal."):
        return ("title", "keywords", "examples", "answer", "basis")
    if eid.startswith(FAQ_PREFIXES) or eid.startswith("smalltalk."):
        return ("title", "keywords", "examples", "answer")
    return ("title", "keywords", "examples")


def _entry(raw, fname: str, index: int) -> Entry:
    if not isinstance(raw, dict):
        raise FaqError(f"item {index} is not a mapping", fname)
    eid = raw.get("id")
    if not isinstance(eid, str) or not eid.strip():
        raise FaqError(f"item {index} has no 'id'", fname)
    eid = eid.strip()
    required = _required_fields(eid)
    for key in ("title", "answer", "basis"):
        value = raw.get(key)
        if key in required and (not isinstance(value, str) or not value.strip()):
            raise FaqError(f"missing required field '{key}'", fname, eid)
        if value is not None and not isinstance(value, str):
            raise FaqError(f"'{key}' must be a string", fname, eid)
    return Entry(
        id=eid,
        title=raw["title"].strip(),
        keywords=_str_list(raw.get("keywords"), "keywords", fname, eid, "keywords" in required),
        examples=_str_list(raw.get("examples"), "examples", fname, eid, "examples" in required),
        answer=(raw.get("answer") or "").strip() or None,
        basis=(raw.get("basis") or "").strip() or None,
        next=_str_list(raw.get("next"), "next", fname, eid, False),
        file=fname,
    )


def _region(directory: Path) -> Region:
    path = directory / REGIONS_FILE
    if not path.is_file():
        return Region(name="", values={})
    data = _read_yaml(path) or {}
    if not isinstance(data, dict) or not isinstance(data.get("values", {}), dict):
        raise FaqError("expected a mapping with 'region' and 'values'", REGIONS_FILE)
    values = {}
    for name, spec in (data.get("values") or {}).items():
        if not isinstance(spec, dict) or "value" not in spec:
            raise FaqError(f"value '{name}' needs at least 'value' (and 'valid_from', 'source')",
                           REGIONS_FILE)
        values[str(name)] = spec
    return Region(name=str(data.get("region") or ""), values=values)


def _out_of_scope(directory: Path) -> tuple[str, ...]:
    path = directory / OUT_OF_SCOPE_FILE
    if not path.is_file():
        return ()
    data = _read_yaml(path) or {}
    examples = data.get("examples") if isinstance(data, dict) else data
    return _str_list(examples, "examples", OUT_OF_SCOPE_FILE, "", False)


def _entry_files(directory: Path) -> list[Path]:
    special = {OUT_OF_SCOPE_FILE, REGIONS_FILE, VOCABULARY_FILE}
    return sorted(p for p in directory.glob("*.yaml") if p.name not in special)


def _validate(entries: dict[str, Entry], known: frozenset[str], known_from: str, region: Region):
    for e in entries.values():
        if e.id not in known:
            raise FaqError(f"unknown id (not in {known_from})", e.file, e.id)
        if e.answer:
            if len(e.answer) > MAX_ANSWER_CHARS:
                raise FaqError(f"answer is {len(e.answer)} characters, more than {MAX_ANSWER_CHARS}",
                               e.file, e.id)
            for name in _PLACEHOLDER_RE.findall(e.answer):
                if name not in region.values:
                    raise FaqError(f"unknown placeholder {{{name}}} (not in {REGIONS_FILE})",
                                   e.file, e.id)
        for item in e.next:
            if item.startswith(ROUTING_PREFIXES) and item not in known:
                raise FaqError(f"'next' names unknown target {item}", e.file, e.id)
    missing = sorted(i for i in known - entries.keys() if i not in NON_ENTRY_TARGETS)
    if missing:
        raise FaqError(f"no entry for {len(missing)} target(s) in {known_from}: {', '.join(missing)}")


def load(directory: str | os.PathLike | None = None) -> Catalogue:
    """Load and validate every file in the FAQ directory. Raises FaqError on the first problem."""
    directory = Path(directory) if directory else faq_dir()
    if not directory.is_dir():
        raise FaqError(f"FAQ directory {directory} does not exist")
    known, known_from = known_targets(directory)
    region = _region(directory)
    entries: dict[str, Entry] = {}
    for path in _entry_files(directory):
        data = _read_yaml(path)
        if data is None:
            continue
        if not isinstance(data, list):
            raise FaqError("expected a list of entries", path.name)
        for i, raw in enumerate(data, 1):
            e = _entry(raw, path.name, i)
            if e.id in entries:
                raise FaqError(f"duplicate id (also in {entries[e.id].file})", path.name, e.id)
            entries[e.id] = e
    _validate(entries, known, known_from, region)
    userdict = directory / USERDICT_FILE
    cat = Catalogue(entries=entries, out_of_scope=_out_of_scope(directory), region=region,
                    known_ids=known, userdict=userdict if userdict.is_file() else None,
                    directory=directory, version=_version(directory))
    for e in entries.values():
        if e.answer:
            for page in paginate(render_text(e.id, cat)):
                if len(page.encode("utf-8")) >= PAGE_BYTES - FOOTER_BYTES:
                    raise FaqError(f"a rendered page is {len(page.encode())} bytes "
                                   f"(limit {PAGE_BYTES})", e.file, e.id)
    return cat


# --------------------------------------------------------------------------- per-process cache

_cache_lock = threading.Lock()
_cache: dict[Path, Catalogue] = {}


def faq_dir() -> Path:
    """FAQ_DIR from the Flask config when inside an app, else the environment, else ./faq."""
    try:
        from flask import current_app

        configured = current_app.config.get("FAQ_DIR")
    except RuntimeError:                       # no app context
        configured = None
    return Path(configured or os.environ.get("FAQ_DIR") or DEFAULT_FAQ_DIR)


def _version(directory: Path) -> tuple:
    """(name, mtime, size) of every file the content depends on."""
    out = []
    try:
        with os.scandir(directory) as it:
            for d in it:
                if d.name.endswith(".yaml") or d.name in (USERDICT_FILE, TARGETS_FILE):
                    st = d.stat()
                    out.append((d.name, st.st_mtime_ns, st.st_size))
    except OSError:
        pass
    try:
        st = topics_path().stat()
        out.append((str(topics_path()), st.st_mtime_ns, st.st_size))
    except OSError:
        pass
    return tuple(sorted(out))


RELOAD_CHECK_SECONDS = 2.0  # how often answering looks at the files' mtimes (not per message)
_checked: dict[Path, float] = {}


def current() -> Catalogue:
    """catalogue() for the message path: the files are looked at no more than every 2 s."""
    directory = faq_dir()
    cat = _cache.get(directory)
    if cat is not None and time.monotonic() - _checked.get(directory, 0.0) < RELOAD_CHECK_SECONDS:
        return cat
    cat = catalogue(directory)
    _checked[directory] = time.monotonic()
    return cat


def catalogue(directory: str | os.PathLike | None = None) -> Catalogue:
    """The loaded content, reloaded when a file changes.

    A broken edit does not take the bot down: the last good content stays in use and the
    error is logged (`flask faq load` shows it). The first load raises.
    """
    directory = Path(directory) if directory else faq_dir()
    version = _version(directory)
    cat = _cache.get(directory)
    if cat is not None and cat.version == version:
        return cat
    with _cache_lock:
        cat = _cache.get(directory)
        if cat is not None and cat.version == version:
            return cat
        try:
            fresh = load(directory)
        except FaqError:
            if cat is None:
                raise
            log.exception("FAQ content changed but does not validate; keeping the previous version")
            _cache[directory] = cat = Catalogue(**{**cat.__dict__, "version": version})
            return cat
        _cache[directory] = fresh
        return fresh


def entry(faq_id: str) -> Entry:
    try:
        return current().entries[faq_id]
    except KeyError:
        raise KeyError(f"no FAQ entry {faq_id!r}") from None


def title(faq_id: str) -> str:
    return entry(faq_id).title


def all_entries() -> list[Entry]:
    return list(current().entries.values())


# --------------------------------------------------------------------------- rendering

def _date_label(valid_from) -> str:
    if isinstance(valid_from, str):
        try:
            valid_from = date.fromisoformat(valid_from)
        except ValueError:
            return valid_from
    if isinstance(valid_from, date):
        return f"{valid_from.year}年{valid_from.month}月{valid_from.day}日起"
    return ""


def fill_placeholders(text: str, region: Region) -> str:
    """{minimum_wage_monthly}元/月 → 2540元/月（北京市，2025年9月1日起）."""
    def sub(m: re.Match) -> str:
        spec = region.values[m.group(1)]
        if not spec.get("valid_from"):          # e.g. a hotline number: no date to show
            return f"{spec['value']}{m.group(2)}"
        note = "，".join(p for p in (region.name, _date_label(spec["valid_from"])) if p)
        return f"{spec['value']}{m.group(2)}（{note}）"

    return re.sub(r"\{(\w+)\}(" + _UNIT_RE + ")", sub, text)


def _split_long(paragraph: str, limit: int) -> list[str]:
    """A paragraph longer than a page is cut after sentence ends (。！？；), else hard."""
    parts, current = [], ""
    for sentence in re.findall(r"[^。！？；]*[。！？；]?", paragraph):
        if not sentence:
            continue
        while len(sentence) > limit:
            parts.append(current + sentence[: limit - len(current)])
            sentence, current = sentence[limit - len(current):], ""
        if len(current) + len(sentence) > limit:
            parts.append(current)
            current = ""
        current += sentence
    if current:
        parts.append(current)
    return parts


def paginate(text: str, limit: int = PAGE_CHARS) -> list[str]:
    """Pack paragraphs (blank-line separated) into pages of at most `limit` characters.

    A paragraph longer than a page is split at line ends, then at sentence ends. Pages carry no
    "more" footer: the conversation layer adds one, with the page count and the words that work.
    """
    paragraphs = []
    for para in re.split(r"\n\s*\n", text.strip()):
        para = para.strip()
        if not para:
            continue
        if len(para) <= limit:
            paragraphs.append(para)
            continue
        for line in para.splitlines():
            if line.strip():
                paragraphs.extend(_split_long(line.strip(), limit))
    pages, current = [], []
    for para in paragraphs:
        if current and len("\n\n".join(current + [para])) > limit:
            pages.append("\n\n".join(current))
            current = []
        current.append(para)
    if current:
        pages.append("\n\n".join(current))
    return pages or [""]


def _next_line(e: Entry, cat: Catalogue) -> str:
    labels = []
    for item in e.next:
        if item in cat.entries:
            labels.append(NEXT_LABELS.get(item) or cat.entries[item].title)
        elif not item.startswith(ROUTING_PREFIXES):
            labels.append(item)
    return "您还可以回复：" + "｜".join(labels) if labels else ""


def render_text(faq_id: str, cat: Catalogue | None = None) -> str:
    """The whole answer as one text: answer, 依据 (legal), next steps."""
    cat = cat or current()
    e = cat.entries[faq_id]
    body = fill_placeholders(e.answer or e.title, cat.region)
    paragraphs = [p for p in re.split(r"\n\s*\n", body) if p.strip()]
    shown = "依据：" if e.id.startswith("legal.") else "依据"
    if e.basis and shown not in body:
        # before a closing "回复…" paragraph, so the answer still ends with the next step
        at = len(paragraphs) - 1 if len(paragraphs) > 1 and "回复" in paragraphs[-1] else len(paragraphs)
        paragraphs.insert(at, f"依据：{e.basis}")
    if "回复" not in body:            # the answer does not already say what to reply next
        nxt = _next_line(e, cat)
        if nxt:
            paragraphs.append(nxt)
    parts = paragraphs
    return "\n\n".join(parts)


def render(faq_id: str, traditional: bool = False) -> list[str]:
    """Page bodies, each under 2048 bytes with room for a footer; Traditional script on request."""
    pages = paginate(render_text(faq_id))
    if traditional:
        from bot.nlu.normalise import to_traditional

        pages = [to_traditional(p) for p in pages]
    return pages


# --------------------------------------------------------------------------- CLI

faq_cli = AppGroup("faq", help="FAQ content commands.")


@faq_cli.command("load")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="FAQ directory (default: FAQ_DIR or ./faq)")
def load_command(directory):
    """Validate faq/*.yaml and print a summary."""
    try:
        cat = load(directory)
    except FaqError as exc:
        raise click.ClickException(str(exc)) from None
    by_prefix: dict[str, int] = {}
    for eid in cat.entries:
        by_prefix[eid.split(".")[0]] = by_prefix.get(eid.split(".")[0], 0) + 1
    detail = ", ".join(f"{k} {v}" for k, v in sorted(by_prefix.items()))
    click.echo(f"{len(cat.entries)} entries, {cat.n_examples} examples ({detail}); "
               f"{len(cat.out_of_scope)} out-of-scope examples; "
               f"{len(cat.region.values)} regional values ({cat.region.name or 'no region'})")
