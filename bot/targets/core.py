"""The built-in targets: the menu, the fallback, FAQ answers, pages and votes, flows, the hand-off.

Each function gets the Conversation, the target id and its argument, and returns what the worker
reads; what it shows as a numbered list it offers through the typed Context, so the numbers work.
"""
from __future__ import annotations

from bot import faq, texts, wechat
from bot.clock import local_now
from bot.context import Offer, Pages
from bot.flows import FLOWS
from bot.flows import engine
from bot.flows.membership import status_text
from bot.models import FeedbackVote
from bot.services import handoff, home_office, wechat_kf
from bot.targets.registry import target

FAQ_FAMILIES = ("legal.*", "home_office.*", "union.*", "service.*", "smalltalk.*")


def paused_note(conv) -> str:
    """A reminder of the flow the worker left with 菜单 (or a switch), on replies outside it."""
    context = conv.context
    if conv.flow_name is not None and context.paused:
        return "\n\n" + texts.PAUSED.format(title=FLOWS[conv.flow_name].title)
    if context.suspended is not None:
        return "\n\n" + texts.RESUME_LATER.format(title=FLOWS[context.suspended.flow].title)
    return ""


# -- the menu and the fallback ----------------------------------------------------------------
def menu_reply(conv, head: str = "") -> str:
    """The numbered menu; its numbers answer the next message."""
    conv.context.offer_list("menu", [t for _, t in texts.MENU_ITEMS], [label for label, _ in texts.MENU_ITEMS])
    conv.context.saw_menu(local_now().date())
    return head + texts.MENU


@target("menu")
def show_menu(conv, name, arg) -> str:
    return menu_reply(conv) + paused_note(conv)


@target("menu.legal")
def legal_prompt(conv, name, arg) -> str:
    conv.context.clear()
    return texts.LEGAL_PROMPT


@target("fallback")
def fallback(conv, name, arg) -> str:
    """Short, with 转人工 and the menu as numbers; the whole menu only the first time in a day."""
    if not conv.context.menu_seen(local_now().date()):
        return menu_reply(conv, texts.FALLBACK_FULL.removesuffix(texts.MENU))
    conv.context.offer_list("fallback", [t for _, t in texts.FALLBACK_SHORT_ITEMS],
                            [label for label, _ in texts.FALLBACK_SHORT_ITEMS])
    return texts.FALLBACK_SHORT


@target("bot.identity")
def who_am_i(conv, name, arg) -> str:
    conv.context.clear()
    return texts.BOT_IDENTITY


# -- FAQ answers, pages and votes ---------------------------------------------------------------
@target(*FAQ_FAMILIES)
def answer(conv, faq_id, arg) -> str:
    """An FAQ answer, the part the worker's message asks about first (faq.render(question=))."""
    question = asked(conv)
    pages = faq.render(faq_id, question=question)
    if faq_id.startswith("smalltalk."):
        conv.context.clear()
        return pages[0] + paused_note(conv)
    return page(conv, faq_id, pages, 1, question)


def asked(conv) -> str | None:
    """The worker's message, when it is a question (not a list pick or a menu click)."""
    prepared = conv.prepared
    return prepared.text[:200] if prepared is not None and prepared.route is not None else None


def page(conv, faq_id: str, pages: list[str], n: int, question: str | None = None) -> str:
    """Page n of an answer: a count and the words that work, or, on the last page, the vote (and
    the second question of the message, when there was one)."""
    total, later = len(pages), conv.context.later
    more = f"\n{texts.LATER.format(title=faq.title(later))}" if later and n == 1 else ""
    if n < total:
        conv.context.show(pages=Pages(faq_id, n, total, question))
        return f"{pages[n - 1]}\n\n{texts.MORE.format(page=n, total=total)}{more}"
    targets, labels = [f"vote.helpful:{faq_id}", f"vote.unhelpful:{faq_id}"], list(texts.FEEDBACK_ITEMS)
    ask = texts.FEEDBACK_ASK
    if later:
        targets, labels = [*targets, "later"], [*labels, texts.LATER_ITEM]
        ask += texts.FEEDBACK_LATER.format(title=faq.title(later))
    conv.context.show(Offer("vote", targets, labels), Pages(faq_id, n, total, question))
    count = f"（{n}/{total}）" if total > 1 else ""
    return f"{pages[n - 1]}\n\n{count}{ask}{paused_note(conv)}"


def next_page(conv) -> str | None:
    """The next page of the answer being read; None when no paged answer is open."""
    pages = conv.context.pages
    if pages is None:
        return None
    if pages.done:
        return texts.NO_MORE.format(total=pages.total)
    rendered = faq.render(pages.target, question=pages.question)
    return page(conv, pages.target, rendered, pages.shown + 1, pages.question)


@target("later")
def the_other_question(conv, name, arg) -> str:
    """The second question of a message, after the first was answered."""
    later = conv.context.take_later()
    if later is None:
        return menu_reply(conv, texts.NO_LATER)
    return target.run(conv, later)


@target("vote.helpful", "vote.unhelpful")
def vote(conv, name, faq_id) -> str:
    helpful = name == "vote.helpful"
    conv.session.add(FeedbackVote(worker_id=conv.worker_id, faq_id=faq_id, helpful=helpful))
    conv.context.clear()
    conv.context.unhelpful = None if helpful else faq_id
    return texts.FEEDBACK_THANKS if helpful else texts.FEEDBACK_SORRY


# -- flows --------------------------------------------------------------------------------------
@target("flow.home_office")
def home_office_flows(conv, name, arg) -> str:
    """Registered workers check in; others register (one menu entry, two flows)."""
    registered = home_office.active_registration(conv.session, conv.worker) is not None
    return start_flow(conv, "flow.checkin" if registered else "flow.home_office_registration", arg)


@target("flow.*")
def start_flow(conv, name, arg) -> str:
    flow_name = {"flow.home_office_registration": "home_office"}.get(name, name.removeprefix("flow."))
    flow = FLOWS[flow_name]
    context, current = conv.context, conv.flow_name
    if current == flow.name:  # already in it (perhaps paused): carry on where the worker was
        context.resume()
        context.clear()
        return engine.prompt(conv, flow)
    if current is not None and conv.in_flow:  # a menu click mid-flow: ask before leaving the draft
        title = FLOWS[current].title
        context.offer_list("switch", [f"switch.go:{name}", "switch.stay"], ["是", "不是"])
        return texts.START_OTHER_FLOW.format(title=title, other=flow.title)
    note = ""
    if current is not None:  # paused: keep the draft for 继续
        context.suspend(current, conv.state, conv.slots)
        note = "\n\n" + texts.RESUME_LATER.format(title=FLOWS[current].title)
    context.clear()
    return engine.start(conv, flow) + note


@target("switch.go")
def switch_to(conv, name, other) -> str:
    """Leave the current step for another request; the draft is kept for 继续."""
    if conv.flow_name is not None:
        conv.context.pause()
    return target.run(conv, other)


@target("switch.stay")
def stay(conv, name, arg) -> str:
    conv.context.clear()
    if conv.flow_name is None:
        return texts.NOTHING_TO_RESUME
    conv.context.resume()
    return engine.prompt(conv, FLOWS[conv.flow_name])


# -- the hand-off and the worker's own records --------------------------------------------------
@target("flow.handoff")
def hand_over(conv, name, arg) -> str:
    """转人工: to the workbench, or (HANDOFF_TO=wechat_kf) to WeChat's customer-service tool; `arg`
    "menu" when it came from the menu button (an event, which is never forwarded to the tool)."""
    if conv.owner == "staff":
        return texts.HANDOFF_ALREADY
    context = conv.context
    reason = ("invalid_input" if conv.in_flow and conv.row.failures >= engine.MAX_FAILURES
              else "not_helpful" if context.unhelpful else "asked")
    if conv.flow_name is not None:
        context.pause()
    context.clear()
    if conv.config.get("HANDOFF_TO") == wechat_kf.CHANNEL:
        account = conv.config.get("WECHAT_KF_ACCOUNT") or None
        wechat_kf.hand_over(conv.session, conv.worker, reason, account)
        return texts.HANDOFF_KF_TYPE if arg == "menu" else wechat.transfer_reply(account)
    handoff.open(conv.session, conv.worker, reason)
    return texts.HANDOFF_OPENED.format(office_hours=conv.config.get("OFFICE_HOURS") or "工作时间")


@target("union.application_status")
def application_status(conv, name, arg) -> str:
    conv.context.clear()
    return status_text(conv.session, conv.worker) + paused_note(conv)
