"""Free text outside a flow: the policy that turns a message into a target.

In order: a number or the words of the list the worker was just shown; 更多 for the next page of
an answer; a fixed phrase (bot.vocabulary); a bare number with no list showing (a short hint with
the menu, never a guess); otherwise the router (bot.nlu): an answer, a clarification, a flow (asked
about first unless the router is sure) or the fallback. The route is worked out before the write
lock (`prepare`) and used here for that same text.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from bot import faq, masking, texts, vocabulary
from bot.clock import now
from bot.context import small_number
from bot.flows import FLOWS
from bot.models import RouteLog
from bot.services import handoff
from bot.targets import core, knows, run

if TYPE_CHECKING:
    from bot.nlu import Route

MORE_WORDS = {"更多", "查看更多", "下一页", "继续看", "接着看", "还有吗", "后面呢", "n", "more", "next"}
LATER_WORDS = {"另一个问题", "另一个", "第二个问题", "下一个问题", "还有一个问题"}
FLOW_START_MIN = 0.8  # below this a flow the router guessed is asked about before it starts
DATA_FLOWS = ("flow.legal_aid", "flow.membership", "flow.home_office")
# Every routing decision is logged for the workbench's insights (topics, share answered); the text
# only of those the router could not answer or was less sure of than this (the review list).
REVIEW_BELOW = 0.5
ROUTE_LOG = RouteLog.__table__.insert()  # Core, built once: one row per routed message on the hot path


class Prepared(NamedTuple):
    """What a text message alone decides, worked out before the write transaction (no database: the
    text and this process's FAQ index). Used only for this same text and only where the dialog
    state sends the text (a flow step, a global command or a numbered choice never needs it)."""

    text: str
    traditional: bool  # the worker writes Traditional Chinese: reply in kind
    shortcut: str | None  # a fixed phrase's target (bot.vocabulary)
    route: Route | None  # the router's decision; None for commands and fixed phrases
    command: str | None = None  # the global command the text is (bot.vocabulary)


def prepare(text: str | None) -> Prepared | None:
    from bot.nlu import is_traditional, route  # the index loads once per process, on first use

    if not text:
        return None
    command, shortcut = vocabulary.classify(text)
    if command:
        return Prepared(text, is_traditional(text), None, None, command)
    return Prepared(text, is_traditional(text), shortcut, None if shortcut else route(text))


def command_of(conv, text: str) -> str | None:
    """The global command the text is, from the prepared work when it is for this text."""
    prepared = conv.prepared
    if prepared is not None and prepared.text == text:
        return prepared.command
    return vocabulary.command(text)


def respond(conv, text: str) -> str:
    """Reply to text typed outside a flow."""
    context = conv.context
    picked = context.pick(text)
    if picked is not None:
        return run(conv, picked)
    if text.strip().lower() in MORE_WORDS or _plain(text) in MORE_WORDS:
        more = core.next_page(conv)
        if more is not None:
            return more
    if _plain(text) in LATER_WORDS:  # "the other question" of a two-question message
        return run(conv, "later")
    prepared = conv.prepared if conv.prepared is not None and conv.prepared.text == text else prepare(text)
    if prepared.shortcut and knows(prepared.shortcut):
        return run(conv, prepared.shortcut)
    n = small_number(text)
    if n is not None:  # a number, and no list showing: a rating staff asked for, or never a guess
        if 1 <= n <= 5 and handoff.rate(conv.session, conv.worker, n) is not None:
            conv.context.clear()
            return texts.RATED.format(stars=n)
        return core.menu_reply(conv, texts.WHICH_LIST.format(said=text.strip()).removesuffix(texts.MENU))
    return routed(conv, text, prepared.route)


def _plain(text: str) -> str:
    return vocabulary.key(text)


def routed(conv, text: str, route) -> str:
    if route is None:
        from bot.nlu import route as router

        route = router(text)
    log_route(conv, text, route)
    if route.target == "clarify":
        options = [t for t, _ in route.candidates[:3]]
        labels = [faq.title(t) for t in options]
        conv.context.offer_list("clarify", options, labels)
        listing = "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))
        return texts.CLARIFY.format(options=listing)
    if route.target in DATA_FLOWS and route.score < FLOW_START_MIN:
        return confirm_flow(conv, route.target)
    # Two questions in one message: the first is answered, the second kept for right after it.
    conv.context.later = route.second if route.second and knows(route.second) else None
    return run(conv, route.target)


def log_route(conv, text: str, route) -> None:
    """Every routing decision, for the workbench's insights; the text only when the router was unsure
    (masked), for staff to teach the knowledge base."""
    unsure = route.target in ("clarify", "fallback")
    best = route.candidates[0][0] if unsure and route.candidates else None if unsure else route.target
    score = float(route.score or 0.0)
    conv.unit.insert_later(ROUTE_LOG, {
        "worker_id": conv.worker_id, "decision": route.target if unsure else "answer", "target": best,
        "text": masking.mask(text)[:2000] if unsure or score < REVIEW_BELOW else "", "score": score,
        "created_at": now()})


def confirm_flow(conv, target: str) -> str:
    """A flow the router only guessed (我想说一下我的情况 → legal aid?): ask what the worker wants."""
    name = {"flow.home_office": "home_office"}.get(target, target.removeprefix("flow."))
    title = FLOWS[name].title
    conv.context.offer_list("confirm_flow", [target, "menu.legal", "flow.handoff"],
                            [f"开始{title}", "我直接说问题", "转人工"])
    return texts.CONFIRM_FLOW.format(title=title)
