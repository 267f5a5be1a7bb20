"""Read and validate the FAQ directory into a Catalogue (one entry per routing target).

Validation runs the same way in `flask faq load`, in tests and when a process (re)loads the
content: ids unique and known to the topics contract (../shared/faq-topics.md, or the committed
faq/targets.txt), required fields present (pydantic models in bot.faq.schema), placeholders
known, every rendered page within WeChat's limit.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.faq.schema import FAQ_PREFIXES, Entry, OutOfScope, Regions
from bot.reloading import files_digest
from bot.texts import OFFICE_HOURS_DEFAULT

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_FAQ_DIR = PROJECT_DIR / "faq"
DEFAULT_TOPICS = PROJECT_DIR.parent / "shared" / "faq-topics.md"
TARGETS_FILE = "targets.txt"          # committed copy of the ids in faq-topics.md
OUT_OF_SCOPE_FILE = "out_of_scope.yaml"
REGIONS_FILE = "regions.yaml"
USERDICT_FILE = "userdict.txt"
VOCABULARY_FILE = "vocabulary.yaml"   # fixed phrases, bot/vocabulary.py
SPECIAL_FILES = {OUT_OF_SCOPE_FILE, REGIONS_FILE, VOCABULARY_FILE}

ROUTING_PREFIXES = FAQ_PREFIXES + ("flow.", "smalltalk.")
NON_ENTRY_TARGETS = {"fallback", "clarify"}
MAX_ANSWER_CHARS = 2000    # a whole answer; at ~300 chars a page this is 6–8 pages
PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")
_ID = r"[a-z_]+(?:\.[a-z_]+)?"
# A table row whose first cell is an id, or whose first cell marks a row added later
# ("| new | legal.non_compete | …", faq-topics.md's "New legal targets") and second is an id.
_ROW_RE = re.compile(rf"\|\s*(?:`?({_ID})`?|new)\s*\|\s*(?:`?({_ID})`?\s*\|)?")


class FaqError(Exception):
    """Invalid FAQ content. The message names the file and, where there is one, the entry id."""

    def __init__(self, message: str, file: str | None = None, entry_id: str | None = None):
        where = ": ".join(p for p in (file, f"entry {entry_id}" if entry_id else None) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.entry_id = file, entry_id


@dataclass(frozen=True)
class Catalogue:
    entries: dict[str, Entry]
    out_of_scope: tuple[str, ...]
    region: Regions
    known_ids: frozenset[str]
    userdict: Path | None
    directory: Path
    version: str = ""          # a hash of every file the content depends on
    contexts: frozenset[str] = frozenset()   # out_of_scope.yaml `contexts`, all categories
    own_work: frozenset[str] = frozenset()   # out_of_scope.yaml `own_work`

    @property
    def n_examples(self) -> int:
        return sum(len(e.examples) for e in self.entries.values())


# --------------------------------------------------------------------------- targets

def parse_topics(text: str) -> list[str]:
    """Target ids from the tables in faq-topics.md, in order: the first column, or the second
    where the first marks a row as added later ("new")."""
    ids = []
    for line in text.splitlines():
        m = _ROW_RE.match(line.strip())
        if not m:
            continue
        found = m.group(1) if m.group(1) and m.group(1) != "new" else m.group(2)
        if found and found not in ("id", "added") and ("." in found or found == "fallback"):
            ids.append(found)
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


# --------------------------------------------------------------------------- reading

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)    # libyaml when available


def read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        raise FaqError(f"not valid YAML ({exc})", file=path.name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FaqError(f"cannot read ({exc})", file=path.name) from None


def _problem(exc: ValidationError) -> str:
    """The first pydantic error as 'field: message'."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"])
    if err["type"] == "missing":
        return f"missing required field '{field}'"
    return f"'{field}' {err['msg'].lower()}, got {err.get('input')!r}"


def _entry(raw, fname: str, index: int) -> Entry:
    if not isinstance(raw, dict):
        raise FaqError(f"item {index} is not a mapping", fname)
    eid = raw.get("id")
    if not isinstance(eid, str) or not eid.strip():
        raise FaqError(f"item {index} has no 'id'", fname)
    eid = eid.strip()
    try:
        e = Entry.model_validate({**raw, "id": eid, "file": fname})
    except ValidationError as exc:
        raise FaqError(_problem(exc), fname, eid) from None
    missing = e.missing()
    if missing:
        raise FaqError(f"missing required field '{missing[0]}'", fname, eid)
    return e


# Service data that is deployment configuration, not content: {placeholder} → (setting, default).
SERVICE_SETTINGS = {"office_hours": ("OFFICE_HOURS", OFFICE_HOURS_DEFAULT), "union_address": ("UNION_ADDRESS", "")}


def load_regions(directory: Path, settings=None) -> Regions:
    """faq/regions.yaml, plus the service data that is deployment configuration (SERVICE_SETTINGS):
    one office-hours value for the hand-off reply, canned replies and answers alike, and the union's
    own address, a placeholder (left out of answers) until the deployment sets it."""
    path = directory / REGIONS_FILE
    data = read_yaml(path) if path.is_file() else None
    data = data if isinstance(data, dict) else {}
    values = dict(data.get("values") or {})
    for name, (setting, default) in SERVICE_SETTINGS.items():
        if name in values:
            raise FaqError(f"{name} is a setting ({setting}), not regional data: remove it here", REGIONS_FILE)
        configured = (settings.get(setting) if settings is not None else _setting(setting)) or default
        values[name] = {"value": configured or f"（未设置 {setting}）", "source": f"the {setting} setting",
                        "placeholder": not configured}
    try:
        return Regions.model_validate({**data, "values": values})
    except ValidationError as exc:
        raise FaqError(_problem(exc), REGIONS_FILE) from None


def _out_of_scope(directory: Path) -> OutOfScope:
    path = directory / OUT_OF_SCOPE_FILE
    if not path.is_file():
        return OutOfScope()
    data = read_yaml(path) or {}
    try:
        return OutOfScope.model_validate(data if isinstance(data, dict) else {"examples": data})
    except ValidationError as exc:
        raise FaqError(_problem(exc), OUT_OF_SCOPE_FILE) from None


def entry_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.name not in SPECIAL_FILES)


def content_files(directory: Path) -> list[Path]:
    """Every file the content (and the router built from it) depends on."""
    files = list(directory.glob("*.yaml")) + [directory / USERDICT_FILE, directory / TARGETS_FILE]
    return files + [topics_path()]


def content_version(directory: Path) -> str:
    """The content's identity: its files, and the settings rendered into it (SERVICE_SETTINGS), so
    a snapshot made with other office hours or another address is never served."""
    import hashlib

    configured = "\n".join(_setting(setting) or default for setting, default in SERVICE_SETTINGS.values())
    return hashlib.sha256((files_digest(content_files(directory)) + configured).encode("utf-8")).hexdigest()


def _validate(entries: dict[str, Entry], known: frozenset[str], known_from: str, region: Regions):
    for e in entries.values():
        if e.id not in known:
            raise FaqError(f"unknown id (not in {known_from})", e.file, e.id)
        if e.answer:
            if len(e.answer) > MAX_ANSWER_CHARS:
                raise FaqError(f"answer is {len(e.answer)} characters, more than {MAX_ANSWER_CHARS}",
                               e.file, e.id)
            for name in PLACEHOLDER_RE.findall(e.answer):
                if name not in region.values:
                    raise FaqError(f"unknown placeholder {{{name}}} (not in {REGIONS_FILE})",
                                   e.file, e.id)
        for item in e.next:
            if item.startswith(ROUTING_PREFIXES) and item not in known:
                raise FaqError(f"'next' names unknown target {item}", e.file, e.id)
    missing = sorted(i for i in known - entries.keys() if i not in NON_ENTRY_TARGETS)
    if missing:
        raise FaqError(f"no entry for {len(missing)} target(s) in {known_from}: {', '.join(missing)}")


def faq_dir() -> Path:
    """FAQ_DIR from the Flask config when inside an app, else the environment, else ./faq."""
    return _path(_setting("FAQ_DIR") or DEFAULT_FAQ_DIR)


@lru_cache(maxsize=64)  # a Path per setting, not per call: faq_dir() runs a few times per message
def _path(value: str | os.PathLike) -> Path:
    return Path(value)


def cache_dir() -> Path | None:
    """Where built content and the router are kept between restarts (CONTENT_CACHE_DIR; default
    instance/content-cache; "off" disables it)."""
    configured = _setting("CONTENT_CACHE_DIR")
    if configured == "off":
        return None
    return Path(configured) if configured else PROJECT_DIR / "instance" / "content-cache"


def _setting(name: str) -> str | None:
    try:
        from flask import current_app

        value = current_app.config.get(name)
    except RuntimeError:                       # no app context
        value = None
    return value or os.environ.get(name) or None


def load(directory: str | os.PathLike | None = None) -> Catalogue:
    """Read and validate every file in the FAQ directory (bot.faq.store.load also checks that every
    rendered page fits WeChat). Raises FaqError on the first problem."""
    directory = Path(directory) if directory else faq_dir()
    if not directory.is_dir():
        raise FaqError(f"FAQ directory {directory} does not exist")
    version = content_version(directory)
    known, known_from = known_targets(directory)
    region = load_regions(directory)
    entries: dict[str, Entry] = {}
    for path in entry_files(directory):
        data = read_yaml(path)
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
    oos = _out_of_scope(directory)
    cat = Catalogue(entries=entries, out_of_scope=oos.examples, region=region, known_ids=known,
                    userdict=userdict if userdict.is_file() else None, directory=directory,
                    version=version, contexts=frozenset(w.lower() for ws in oos.contexts.values() for w in ws),
                    own_work=frozenset(w.lower() for w in oos.own_work))
    return cat


def placeholder_problems(directory: str | os.PathLike | None = None, settings=None) -> list[str]:
    """One line per regional value still holding sample data (faq/regions.yaml `placeholder`, or
    service data whose setting is not set): production start-up refuses to run with any, `flask
    faq load` warns. `settings`: the app's config, before an app context exists."""
    directory = Path(directory) if directory else faq_dir()
    try:
        regions = load_regions(directory, settings)
    except FaqError as exc:
        return [str(exc)]
    named = {name: setting for name, (setting, _) in SERVICE_SETTINGS.items()}
    return [f"{named[name]} is not set: the {name.replace('_', ' ')} workers are told, for this deployment"
            if name in named else
            f"{directory / REGIONS_FILE}: '{name}' is sample data ({spec.value}); set the real "
            f"value for this deployment and remove 'placeholder: true'"
            for name, spec in regions.values.items() if spec.placeholder]
