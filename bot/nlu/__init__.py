"""Natural-language understanding: normalise a worker's message and route it to a target."""
from bot.nlu.matcher import CLARIFY, FALLBACK, MENU, Route, get_index, route
from bot.nlu.normalise import is_traditional, normalise, to_traditional

__all__ = ["route", "Route", "get_index", "is_traditional", "to_traditional", "normalise",
           "FALLBACK", "CLARIFY", "MENU"]
