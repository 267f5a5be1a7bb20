"""The dialog: global commands (an explicit table), the step of the flow in progress, the hand-off.

A flow is data (bot/flows/*) run by bot/flows/engine.py; this module decides what happens around
a step: a global command (取消, 返回, 菜单, 转人工, 继续, 结束人工) works in every state; in a
free-text step, a service phrase or a question is recognised and the worker is asked before it
is stored as the answer; three wrong answers in a row offer 转人工; while staff own the
conversation, messages go to them and the worker is always told how to get back. `finish()` is
the last touch on every reply: the expiry notice and the worker's script.
"""
from __future__ import annotations

import re

from bot import texts, vocabulary, wechat
from bot.flows import FLOWS, engine
from bot.chinese import is_traditional, script, to_traditional
from bot.services import handoff, wechat_kf
from bot.targets import core, run

# A question typed into a description is still likely the answer itself; only one that reads as a
# question is asked about. Fields (a name, an address) ask always.
QUESTION_MARKERS = re.compile(r"[?？]|吗|怎么|如何|多少|能不能|可不可以|是否|咋|啥|什么|为什么|哪")
QUESTION_MIN_SCORE = 0.5  # the router's confidence before a typed question interrupts a step
# A field's answer is usually a statement ("下楼做了核酸" at 当天行程): one without a question word
# interrupts the step only when the router is this sure of another request.
STATEMENT_MIN_SCORE = 0.8


# -- global commands ----------------------------------------------------------------------------
def cancel(conv, said: str) -> str:
    context = conv.context
    if conv.flow_name is None:
        if context.suspended is not None:
            title = FLOWS[context.take_suspended().flow].title
            return texts.CANCELLED.format(title=title)
        context.clear()
        return core.menu_reply(conv, texts.NOTHING_TO_CANCEL.removesuffix(texts.MENU))
    title = FLOWS[conv.flow_name].title
    conv.end_flow()
    context.clear()
    return texts.CANCELLED.format(title=title) + core.paused_note(conv)


def back(conv, said: str) -> str:
    if not conv.in_flow:
        return core.menu_reply(conv, texts.NOTHING_TO_CANCEL.removesuffix(texts.MENU))
    flow = FLOWS[conv.flow_name]
    conv.context.clear()
    prompt = engine.back(conv, flow)
    return prompt if prompt is not None else texts.NOTHING_TO_GO_BACK + "\n\n" + engine.prompt(conv, flow)


def menu(conv, said: str) -> str:
    if conv.flow_name is not None:
        conv.context.pause()
    return run(conv, "menu")


def resume(conv, said: str) -> str:
    context = conv.context
    if conv.flow_name is None and context.suspended is not None:
        suspended = context.take_suspended()
        conv.set_flow(suspended.flow, suspended.state, suspended.slots)
    if conv.flow_name is None:
        return core.menu_reply(conv, texts.NOTHING_TO_RESUME.removesuffix(texts.MENU))
    context.resume()
    context.clear()
    return engine.prompt(conv, FLOWS[conv.flow_name])


def hand_over(conv, said: str) -> str:
    return run(conv, "flow.handoff")


def end_handoff(conv, said: str) -> str:
    """结束人工 when no hand-off is open: nothing to end, the menu to go on with."""
    return core.menu_reply(conv, texts.HANDOFF_ENDED.removesuffix(texts.MENU))


COMMANDS = {"cancel": cancel, "back": back, "menu": menu, "handoff": hand_over, "resume": resume,
            "end_handoff": end_handoff}
WHAT_COMMANDS_DO = {"cancel": "取消办理", "back": "返回上一步", "menu": "使用菜单", "resume": "继续办理"}


def command(conv, name: str, said: str) -> str:
    return COMMANDS[name](conv, said)


# -- the step of the flow in progress ------------------------------------------------------------
def step(conv, text: str, value=None) -> str:
    """The worker's answer to the current step (or their pick from a switch question)."""
    flow = FLOWS[conv.flow_name]
    context = conv.context
    offer = context.offer
    if offer is not None and offer.kind == "switch":
        picked = context.pick(text)
        if picked == "switch.answer":  # "this IS my answer": take the words they typed before
            context.clear()
            return _answer(conv, flow, offer.said or "", value, check=False)
        if picked is not None:
            return run(conv, picked)
        context.clear()  # they answered something else: take it as the answer to the step
    return _answer(conv, flow, text, value, check=value is None)


def _answer(conv, flow, text: str, value, check: bool) -> str:
    current = engine.step_of(flow, conv.state)
    other = _other_request(conv, flow, current, text) if check else None
    if other is not None and current.free_text:
        return _ask_switch(conv, flow, current, text, other)
    result = engine.answer(conv, flow, text, value)
    if result.invalid:
        phrase = vocabulary.target(text) if check else None
        if phrase is not None and phrase != f"flow.{flow.name}":  # not an answer, but a request we know
            return _ask_switch(conv, flow, current, text, phrase)
        offer = texts.OFFER_HANDOFF if conv.row.failures >= engine.MAX_FAILURES else ""
        return result.reply + offer
    if result.finished and conv.context.suspended is not None:
        return result.reply + "\n\n" + texts.RESUME_LATER.format(title=FLOWS[conv.context.suspended.flow].title)
    return result.reply


def _other_request(conv, flow, current, text: str) -> str | None:
    """In a free-text step: a service phrase (我的入会进度, 法律援助) or a confidently routed question."""
    if not current.free_text:
        return None
    target = vocabulary.target(text)
    if target is not None:
        return None if target == f"flow.{flow.name}" else target
    prepared = conv.prepared
    route = prepared.route if prepared is not None and prepared.text == text else None
    if route is None or route.target in ("clarify", "fallback") or route.score < QUESTION_MIN_SCORE:
        return None
    if route.target.startswith("smalltalk.") or route.target == f"flow.{flow.name}":
        return None
    if QUESTION_MARKERS.search(text):
        return route.target
    description = current.free_text == "description"  # a description is never a request without one
    return route.target if not description and route.score >= STATEMENT_MIN_SCORE else None


def _ask_switch(conv, flow, current, text: str, other: str) -> str:
    what = _describe(other)
    step_name = current.title or "这一项"
    description = current.free_text == "description"
    stay = "switch.answer" if description else "switch.stay"
    stay_words = (texts.SWITCH_STAY_ANSWER if description else texts.SWITCH_STAY_STEP).format(step=step_name)
    conv.context.offer_list("switch", [f"switch.go:{other}", stay], ["是", "不是"], said=text)
    return texts.SWITCH_ASK.format(title=flow.title, step=step_name, what=what, stay=stay_words)


def _describe(target: str) -> str:
    """「看看我的入会进度」: how the switch question names the other request."""
    from bot import faq

    if target.startswith("flow.") and target.removeprefix("flow.") in FLOWS:
        return f"办理「{FLOWS[target.removeprefix('flow.')].title}」"
    names = {"flow.handoff": "转人工", "union.application_status": "查看入会进度", "legal_aid.bookings": "查看我的预约",
             "legal_aid.cancel": "取消预约", "menu": "看菜单", "flow.home_office": "办理居家办公报备/打卡",
             "privacy.show": "查询我的信息", "privacy.delete": "删除我的信息", "privacy.withdraw": "撤回同意"}
    if target in names:
        return names[target]
    try:
        return f"看看「{faq.title(target)}」的解答"
    except KeyError:
        return "办理别的事"


def location(conv, label: str, value: dict) -> str | None:
    """A shared location answers a step that takes one; None when no step does."""
    if not conv.in_flow:
        return None
    current = engine.step_of(FLOWS[conv.flow_name], conv.state)
    return step(conv, label, value) if current.accepts_location else None


# -- while staff own the conversation ----------------------------------------------------------
def during_handoff(conv, text: str, name: str | None) -> str:
    """Messages go to staff; 结束人工 hands back to the bot; other commands are explained, not lost."""
    if name == "end_handoff":
        handoff.close(conv.session, conv.worker, by="worker")
        return core.menu_reply(conv, texts.HANDOFF_ENDED.removesuffix(texts.MENU)) + core.paused_note(conv)
    if name == "handoff":
        return texts.HANDOFF_ALREADY
    if name in WHAT_COMMANDS_DO:
        return texts.HANDOFF_COMMAND_WAIT.format(said=text.strip()[:10], what=WHAT_COMMANDS_DO[name])
    handoff.add_message(conv.session, conv.worker, text)
    return texts.HANDOFF_QUEUED


# -- while WeChat's customer-service tool has the worker (HANDOFF_TO=wechat_kf) -----------------
def to_wechat_kf(conv):
    """The worker's message goes on to WeChat's tool, and the bot says nothing: until a 客服 accepts
    the session (and again after 30 minutes without one closing it), WeChat still posts the
    worker's messages here, and a transfer reply is what passes each one on to the tool.
    https://developers.weixin.qq.com/doc/offiaccount/Customer_Service/Forwarding_of_messages_to_service_center.html
    """
    return wechat.transfer_reply(wechat_kf.account_for(conv.session, conv.worker, conv.config.get("WECHAT_KF_ACCOUNT")))


def in_wechat_kf(conv, text: str, name: str | None):
    """结束人工 hands back to the bot; everything else is passed to the tool, unanswered by the bot."""
    if name == "end_handoff":
        wechat_kf.leave(conv.session, conv.worker)
        return core.menu_reply(conv, texts.HANDOFF_ENDED.removesuffix(texts.MENU)) + core.paused_note(conv)
    return to_wechat_kf(conv)


# -- the last touch on every reply ----------------------------------------------------------------
def finish(conv, reply, said: str | None = None):
    """Prefix the expiry notice and reply in the worker's script (Traditional until they write
    Simplified again). Non-text replies pass through."""
    if not isinstance(reply, str) or not reply:
        return reply
    if conv.expired_flow is not None and conv.expired_flow in FLOWS:
        reply = texts.EXPIRED.format(title=FLOWS[conv.expired_flow].title) + "\n\n" + reply
    context = conv.context
    if said:
        prepared = conv.prepared
        traditional = (prepared.traditional if prepared is not None and prepared.text == said
                       else is_traditional(said))
        if traditional:
            context.traditional = True
        elif context.traditional and script(said) == "simplified":
            context.traditional = False
    return to_traditional(reply) if context.traditional else reply
