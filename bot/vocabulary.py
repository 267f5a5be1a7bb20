"""The one vocabulary of fixed phrases (faq/vocabulary.yaml): whole messages with one meaning.

The dialog engine reads the global commands from it, the free-text policy its shortcuts, and the
router its exact phrases, so a phrase such as 转人工 is written down once. A message is compared
after `key()`: NFKC (full-width → half-width), lower case, Traditional → Simplified, spaces and
punctuation removed.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)
VOCABULARY_FILE = "vocabulary.yaml"
COMMANDS = ("cancel", "back", "menu", "handoff", "resume", "end_handoff")
# Global commands that are also routing targets (the router's exact phrases and menu numbers).
COMMAND_TARGETS = {"menu": "menu", "handoff": "flow.handoff"}
MAX_KEY_CHARS = 40  # a fixed phrase is short: longer messages are never looked up


@dataclass(frozen=True)
class Meaning:
    kind: str  # "command" | "target"
    value: str  # a command name, or a target id


@dataclass(frozen=True)
class Vocabulary:
    phrases: dict[str, Meaning]
    patterns: tuple[tuple[re.Pattern, Meaning], ...]

    def lookup(self, text: str) -> Meaning | None:
        k = key(text)
        if k in self.phrases:
            return self.phrases[k]
        if len(k) <= MAX_KEY_CHARS:
            for pattern, meaning in self.patterns:
                if pattern.fullmatch(k):
                    return meaning
        return None


def key(text: str) -> str:
    """The form fixed phrases are compared in."""
    from bot.nlu.normalise import to_simplified

    t = unicodedata.normalize("NFKC", text or "")[:200].lower()
    # whitespace and punctuation (Unicode categories Z*, P*, Cc) go; emoji and other symbols stay
    t = "".join(c for c in t if unicodedata.category(c)[0] not in "ZP" and not c.isspace())
    return to_simplified(t)


def parse(data, source: str = VOCABULARY_FILE) -> Vocabulary:
    """Check and build the vocabulary; a mistake names the phrase or pattern it is in."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected the sections commands, targets, patterns")
    phrases: dict[str, Meaning] = {}
    sections = [("command", data.get("commands") or {}), ("target", data.get("targets") or {})]
    for kind, section in sections:
        for value, words in section.items():
            if kind == "command" and value not in COMMANDS:
                raise ValueError(f"{source}: unknown command {value!r} (known: {', '.join(COMMANDS)})")
            for word in words or []:
                k = key(str(word))
                if not k:
                    raise ValueError(f"{source}: {value}: empty phrase {word!r}")
                if k in phrases and phrases[k] != Meaning(kind, value):
                    raise ValueError(f"{source}: {word!r} means both {phrases[k].value} and {value}")
                phrases[k] = Meaning(kind, value)
    patterns = []
    for value, pattern in (data.get("patterns") or {}).items():
        try:
            patterns.append((re.compile(str(pattern)), Meaning("target", value)))
        except re.error as exc:
            raise ValueError(f"{source}: pattern for {value}: {exc}") from None
    return Vocabulary(phrases, tuple(patterns))


_lock = threading.Lock()
_cache: dict[str, tuple[tuple, Vocabulary]] = {}


def load(directory: str | os.PathLike | None = None) -> Vocabulary:
    """The vocabulary of the FAQ directory (the project's own when that directory has none),
    re-read when the file changes. Commands must work even when the content is broken, so an
    edit that does not parse keeps the last good vocabulary (and is logged)."""
    from bot.faq import DEFAULT_FAQ_DIR, faq_dir

    path = Path(directory or faq_dir()) / VOCABULARY_FILE
    if not path.is_file():
        path = DEFAULT_FAQ_DIR / VOCABULARY_FILE
    st = path.stat()
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _lock:
        try:
            vocabulary = parse(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
        except (ValueError, yaml.YAMLError) as exc:
            if cached is None:
                raise
            log.error("%s does not validate, keeping the previous vocabulary: %s", path, exc)
            vocabulary = cached[1]
        _cache[str(path)] = (stamp, vocabulary)
        return vocabulary


def meaning(text: str) -> Meaning | None:
    return load().lookup(text)


def command(text: str) -> str | None:
    """The global command a whole message is, or None. An empty message asks for the menu."""
    if not key(text):
        return "menu"
    found = meaning(text)
    return found.value if found is not None and found.kind == "command" else None


def target(text: str) -> str | None:
    """The target a whole message is a shortcut to, or None."""
    found = meaning(text)
    return found.value if found is not None and found.kind == "target" else None


def routing_phrases(directory: str | os.PathLike | None = None) -> dict[str, str]:
    """key → routing target, for the router's exact phrases (commands that are targets included)."""
    out = {}
    for k, m in load(directory).phrases.items():
        value = m.value if m.kind == "target" else COMMAND_TARGETS.get(m.value)
        if value is not None:
            out[k] = value
    return out
