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
import time
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
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


@lru_cache(maxsize=256)  # the message path asks for the key of the same text several times
def key(text: str) -> str:
    """The form fixed phrases are compared in."""
    from bot.chinese import to_simplified

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


def load(directory: str | os.PathLike | None = None) -> Vocabulary:
    """The vocabulary of the FAQ directory (the project's own when that directory has none),
    re-read when the file changes (bot.reloading, the one cache for content files). Commands
    must work even when the content is broken, so an edit that does not parse keeps the last
    good vocabulary (and is logged)."""
    from bot.faq import faq_dir
    from bot.reloading import file_value

    return file_value(_path(str(directory or faq_dir())), _read)


_paths: dict[str, tuple[float, Path]] = {}  # directory → (when looked at, the file used)


def _path(directory: str) -> Path:
    """The directory's vocabulary file, or the project's own; looked up at most every 2 s (this runs
    three times per message: a stat each time cost more than the lookup itself)."""
    from bot.faq import DEFAULT_FAQ_DIR

    found = _paths.get(directory)
    if found is not None and time.monotonic() - found[0] < 2.0:
        return found[1]
    path = Path(directory) / VOCABULARY_FILE
    if not path.is_file():
        path = DEFAULT_FAQ_DIR / VOCABULARY_FILE
    _paths[directory] = (time.monotonic(), path)
    return path


def _read(path: Path) -> Vocabulary:
    return parse(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)


def meaning(text: str) -> Meaning | None:
    return load().lookup(text)


def classify(text: str) -> tuple[str | None, str | None]:
    """(command, target) of a whole message, each None when it is not one: `command` and `target`
    in one look-up (the message path asks both of every text)."""
    if not key(text):
        return "menu", None
    found = meaning(text)
    if found is None:
        return None, None
    return (found.value, None) if found.kind == "command" else (None, found.value)


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
