"""Natural-language understanding: normalise a worker's message and route it to a target.

Modules by job: normalise (text forms) → lexicon (words, synonyms, typos, fixed phrases) →
features → model (scikit-learn + bm25s) → policy (thresholds, answer / clarify / fallback, a
second question) → matcher (the pipeline) → store (one index per process, disk cache, reloads).
"""
from bot.nlu.normalise import is_traditional, normalise, to_traditional
from bot.nlu.policy import CLARIFY, FALLBACK, Route
from bot.nlu.store import get_index, wait_for_reload, warm_up

MENU = "menu"


def route(text: str) -> Route:
    return get_index().route(text)


__all__ = ["route", "Route", "get_index", "warm_up", "wait_for_reload", "is_traditional",
           "to_traditional", "normalise", "FALLBACK", "CLARIFY", "MENU"]
