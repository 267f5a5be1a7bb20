"""What the worker was last shown, typed: the one owner of Dialog.context.

A numbered list (the menu, a clarification, a vote, a choice), the pages of a long answer, a
paused or suspended flow and the script the worker writes in are conversation state, like a
flow's step. They live in the worker's Dialog row as JSON; this module is the only code that
reads or writes that JSON, through the operations of `Context` (offer / pick / pages / next page /
pause / resume / suspend / clear).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import date

NUMBER_WORDS = "一二三四五六七八九十"
# Financial and variant numerals read as the plain ones (壹 → 一, 两 → 二, 〇 → 零).
_NUMERALS = str.maketrans("壹贰貳叁參肆伍陆陸柒捌玖拾两兩", "一二二三三四五六六七八九十二二")


@dataclass
class Offer:
    """A numbered list the worker was shown; each number (or the option's own words) means a target."""

    kind: str  # menu | clarify | vote | switch | choice | …: what the list was for
    targets: list[str]
    labels: list[str] = field(default_factory=list)  # the words shown for each number
    said: str | None = None  # the worker's words the list is about (kept, never lost)

    def pick(self, text: str) -> str | None:
        """The target a reply picks: its number (1, １, 一, 第一个) or an option's own words."""
        n = small_number(text)
        if n is not None:
            return self.targets[n - 1] if 1 <= n <= len(self.targets) else None
        said = _plain(text)
        if not said:
            return None
        exact = [t for t, label in zip(self.targets, self.labels) if _plain(label) == said]
        if len(exact) == 1:
            return exact[0]
        # "有帮助" for "1 有帮助": a reply that is a whole word of one option's label
        partial = [t for t, label in zip(self.targets, self.labels)
                   if len(said) >= 2 and said in _plain(label)]
        return partial[0] if len(partial) == 1 else None


@dataclass
class Pages:
    """A long answer shown in pages; `shown` pages of `total` have been sent."""

    target: str
    shown: int
    total: int
    question: str | None = None  # the worker's words: the part they asked about comes first

    @property
    def done(self) -> bool:
        return self.shown >= self.total


@dataclass
class Suspended:
    """A flow put aside when the worker started another one; resumed with 继续 when that ends."""

    flow: str
    state: str
    slots: dict


@dataclass
class Context:
    offer: Offer | None = None
    pages: Pages | None = None
    paused: bool = False  # the flow in Dialog.flow / state is paused (the worker is elsewhere)
    suspended: Suspended | None = None
    unhelpful: str | None = None  # the answer voted 没解决: a hand-off now gives that reason
    traditional: bool = False  # the worker writes Traditional Chinese: reply in kind
    later: str | None = None  # a second question in the same message, kept for after the first
    menu_shown_on: str | None = None  # ISO day the worker last saw the full menu

    # -- (de)serialisation -------------------------------------------------------------------
    @classmethod
    def load(cls, data: dict | None) -> Context:
        data = data or {}
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        offer, pages, suspended = values.get("offer"), values.get("pages"), values.get("suspended")
        values["offer"] = Offer(**offer) if isinstance(offer, dict) else None
        values["pages"] = Pages(**pages) if isinstance(pages, dict) else None
        values["suspended"] = Suspended(**suspended) if isinstance(suspended, dict) else None
        return cls(**values)

    def dump(self) -> dict:
        # asdict() of the whole context deep-copies every field on every message; only the nested
        # records (offer, pages, suspended) need it, and fields left at their default are skipped
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v not in (None, False):
                out[f.name] = asdict(v) if is_dataclass(v) else v
        return out

    # -- what was shown ----------------------------------------------------------------------
    def show(self, offer: Offer | None = None, pages: Pages | None = None) -> None:
        """A new reply replaces whatever list or pages the worker saw before."""
        self.offer, self.pages = offer, pages

    def offer_list(self, kind: str, targets: list[str], labels: list[str] | None = None,
                   said: str | None = None) -> None:
        self.show(Offer(kind, list(targets), list(labels or []), said))

    def pick(self, text: str) -> str | None:
        return self.offer.pick(text) if self.offer is not None else None

    def clear(self) -> None:
        self.show()
        self.unhelpful = None

    # -- pages -------------------------------------------------------------------------------
    def take_later(self) -> str | None:
        later, self.later = self.later, None
        return later

    # -- flows -------------------------------------------------------------------------------
    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def suspend(self, flow: str, state: str, slots: dict) -> None:
        self.suspended = Suspended(flow, state, dict(slots))

    def take_suspended(self) -> Suspended | None:
        suspended, self.suspended = self.suspended, None
        return suspended

    # -- the full menu -----------------------------------------------------------------------
    def menu_seen(self, today: date) -> bool:
        return self.menu_shown_on == today.isoformat()

    def saw_menu(self, today: date) -> None:
        self.menu_shown_on = today.isoformat()


def _plain(text: str) -> str:
    import unicodedata

    t = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"[\s\W_]+", "", t)


def small_number(text: str) -> int | None:
    """1 / １ / 一 / 第一个 / 1. → 1; None unless the whole text is a number from 1 to 99."""
    import unicodedata

    t = unicodedata.normalize("NFKC", text or "").strip().strip("。.!！?？~～、,， ")
    t = t.removeprefix("回复").removeprefix("回覆").strip()  # a worker who copies "回复 2" means 2
    t = t.removeprefix("第").removesuffix("个").removesuffix("项").removesuffix("条").translate(_NUMERALS)
    if t.isascii() and t.isdigit() and len(t) <= 2:
        return int(t)
    if 1 <= len(t) <= 3 and all(c in NUMBER_WORDS for c in t):
        if len(t) == 1:
            return NUMBER_WORDS.index(t) + 1
        if t[0] == "十":  # 十一 … 十九
            return 10 + NUMBER_WORDS.index(t[1]) + 1 if len(t) == 2 and t[1] != "十" else None
        if len(t) == 2 and t[1] == "十":  # 二十
            return (NUMBER_WORDS.index(t[0]) + 1) * 10
        if len(t) == 3 and t[1] == "十" and t[2] != "十":  # 二十三
            return (NUMBER_WORDS.index(t[0]) + 1) * 10 + NUMBER_WORDS.index(t[2]) + 1
    return None
