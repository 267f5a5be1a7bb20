"""Free text outside a flow: numbered replies to a menu or clarification, votes, FAQ answers.

The matcher (bot.nlu) decides the target; this module turns a target into the reply and keeps
the small conversation context (pending choices, the answer awaiting a vote, further pages).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from bot import faq, texts
from bot.flows.steps import clean, number
from bot.models import FeedbackVote, RouteLog

if TYPE_CHECKING:
    from bot.nlu import Route

MORE_WORDS = {"n", "更多", "查看更多", "下一页", "继续看", "more"}


def respond(engine, text: str) -> str:
    """Reply to text typed outside a flow."""
    context = engine.row.context
    n = number(text)
    if context.get("choices") and n is not None and 1 <= n <= len(context["choices"]):
        target = context["choices"][n - 1]
        engine.set_context(choices=None)
        return goto(engine, target)
    if context.get("more") and clean(text).lower() in MORE_WORDS:
        return next_page(engine)
    if context.get("feedback") and n in (1, 2):
        return vote(engine, context["feedback"], helpful=(n == 1))
    pre = prepared_for(engine, text)
    shortcut = pre.shortcut if pre is not None else shortcut_of(text)
    if shortcut:  # 我的预约 / 取消预约: the router would start a new booking
        engine.set_context(choices=None, feedback=None, more=None)
        return goto(engine, shortcut)
    return routed(engine, text)


class Prepared(NamedTuple):
    """What a text message alone decides, worked out before the write transaction (no database: the
    text and this process's FAQ index). The webhook hands it to the dialog engine; it is used only
    for this same text and only where the dialog state sends the text (a flow step, a global command
    or a numbered choice never looks at the route)."""

    text: str
    traditional: bool  # the worker writes Traditional Chinese: reply in kind
    shortcut: str | None  # 我的预约 / 取消预约 → a legal_aid target
    route: Route | None  # the router's decision; None for global commands and shortcuts


def prepare(text: str | None) -> Prepared | None:
    from bot.dialog import command_of
    from bot.nlu import is_traditional, route  # the index loads once per process, on first use

    if not text:
        return None
    command = command_of(text)
    shortcut = None if command else shortcut_of(text)
    return Prepared(text, is_traditional(text), shortcut, None if command or shortcut else route(text))


def shortcut_of(text: str) -> str | None:
    """我的预约 / 取消预约 → a legal_aid target (the router would start a new booking)."""
    from bot import vocabulary

    target = vocabulary.target(text)
    return target if target is not None and target.startswith("legal_aid.") else None


def prepared_for(engine, text: str) -> Prepared | None:
    pre = getattr(engine, "prepared", None)
    return pre if pre is not None and pre.text == text else None


def routed(engine, text: str) -> str:
    from bot.nlu import route

    pre = prepared_for(engine, text)
    result = pre.route if pre is not None and pre.route is not None else route(text)
    engine.set_context(choices=None, feedback=None, more=None, unhelpful=None)
    if result.target in ("clarify", "fallback"):
        engine.session.add(RouteLog(worker_id=engine.worker.id, text=text[:2000], decision=result.target,
                                    target=result.candidates[0][0] if result.candidates else None,
                                    score=float(result.score or 0.0)))
    if result.target == "clarify":
        options = [t for t, _ in result.candidates[:3]]
        engine.set_context(choices=options)
        listing = "\n".join(f"{i}. {faq.title(t)}" for i, t in enumerate(options, 1))
        return texts.CLARIFY.format(options=listing)
    return goto(engine, result.target)


def goto(engine, target: str) -> str:
    """Carry out a routing target: a flow, the menu, handoff, an FAQ answer or the fallback."""
    if target == "flow.handoff":
        return engine.cmd_handoff()
    if target.startswith("flow."):
        return engine.start(target.removeprefix("flow."))
    if target == "menu.legal":
        return texts.LEGAL_PROMPT
    if target == "menu":
        return engine.cmd_menu()
    if target == "fallback":
        return texts.FALLBACK
    if target.startswith("legal_aid."):
        from bot.services import legal_aid

        return legal_aid.respond(engine, target)
    if target == "union.application_status":
        from bot.services import membership

        return membership.status_text(engine.session, engine.worker)
    return answer(engine, target)


def answer(engine, faq_id: str) -> str:
    pages = faq.render(faq_id)
    if faq_id.startswith("smalltalk."):
        return pages[0]
    return show_page(engine, faq_id, pages, 0)


def show_page(engine, faq_id: str, pages: list[str], index: int) -> str:
    if index + 1 < len(pages):
        engine.set_context(more={"faq": faq_id, "page": index + 1}, feedback=faq_id)
        return pages[index] + "\n\n" + texts.MORE.format(page=index + 1, total=len(pages))
    engine.set_context(more=None, feedback=faq_id)
    paused = texts.PAUSED.format(title=engine.flow.TITLE) if engine.flow is not None else ""
    return pages[index] + texts.FEEDBACK_ASK + ("\n" + paused if paused else "")


def next_page(engine) -> str:
    more = engine.row.context["more"]
    pages = faq.render(more["faq"])
    if more["page"] >= len(pages):
        engine.set_context(more=None)
        return texts.NO_MORE
    return show_page(engine, more["faq"], pages, more["page"])


def vote(engine, faq_id: str, helpful: bool) -> str:
    engine.session.add(FeedbackVote(worker_id=engine.worker.id, faq_id=faq_id, helpful=helpful))
    engine.set_context(feedback=None, more=None, unhelpful=None if helpful else faq_id)
    return texts.FEEDBACK_THANKS if helpful else texts.FEEDBACK_SORRY
