"""FAQ content: a package by job, because one module did four. schema (pydantic models of the
YAML files) → loader (read + validate a directory into a Catalogue) → render (answers as WeChat
pages) → store (the content in use, reloaded on change, last good kept on disk; the full `load`
and `render` of the current content); cli (`flask faq load`). Everything other code uses is importable from `bot.faq`.
"""
from bot.faq.cli import faq_cli
from bot.faq.loader import (DEFAULT_FAQ_DIR, DEFAULT_TOPICS, FAQ_PREFIXES, MAX_ANSWER_CHARS,
                            NON_ENTRY_TARGETS, OUT_OF_SCOPE_FILE, PROJECT_DIR, REGIONS_FILE,
                            ROUTING_PREFIXES, TARGETS_FILE, USERDICT_FILE, VOCABULARY_FILE,
                            Catalogue, FaqError, cache_dir, content_version, faq_dir, known_targets,
                            parse_topics, placeholder_problems, topics_path)
from bot.faq.render import FOOTER_BYTES, PAGE_BYTES, PAGE_CHARS, fill_placeholders, paginate
from bot.faq.schema import Entry, Regions, RegionValue
from bot.faq.store import all_entries, catalogue, code_version, current, entry, load, render, render_text, title

Region = Regions   # the name the single-module version used

__all__ = [
    "faq_cli", "DEFAULT_FAQ_DIR", "DEFAULT_TOPICS", "FAQ_PREFIXES", "MAX_ANSWER_CHARS",
    "NON_ENTRY_TARGETS", "OUT_OF_SCOPE_FILE", "PROJECT_DIR", "REGIONS_FILE", "ROUTING_PREFIXES",
    "TARGETS_FILE", "USERDICT_FILE", "VOCABULARY_FILE", "Catalogue", "FaqError",
    "content_version", "known_targets", "load", "parse_topics", "placeholder_problems",
    "topics_path", "FOOTER_BYTES", "PAGE_BYTES", "PAGE_CHARS", "fill_placeholders", "paginate",
    "render", "render_text", "Entry", "Regions", "RegionValue", "Region", "all_entries",
    "cache_dir", "catalogue", "code_version", "current", "entry", "faq_dir", "title",
]
