"""退订提醒 / 恢复提醒: the worker turns scheduled reminders off and on again."""
from __future__ import annotations

from bot.services import reminders
from bot.targets.core import paused_note
from bot.targets.registry import target

STOPPED = "好的，已为您停止提醒（每日打卡提醒、法律援助预约前一天的提醒等）。需要时回复「恢复提醒」即可重新开启。"
ALREADY_STOPPED = "您的提醒已经是停止状态。需要时回复「恢复提醒」即可重新开启。"
WITHDRAWN = "（已撤回 {n} 条还没发出的提醒。）"
RESUMED = "好的，已为您恢复提醒。不想再收到时回复「退订提醒」。"
ALREADY_ON = "您的提醒一直是开启的。不想再收到时回复「退订提醒」。"


@target("reminders.stop")
def stop(conv, name, arg) -> str:
    conv.context.clear()
    change = reminders.stop(conv.session, conv.worker)
    reply = ALREADY_STOPPED if change.already else STOPPED
    return reply + (WITHDRAWN.format(n=change.cancelled) if change.cancelled else "") + paused_note(conv)


@target("reminders.resume")
def resume(conv, name, arg) -> str:
    conv.context.clear()
    change = reminders.resume(conv.session, conv.worker)
    return (ALREADY_ON if change.already else RESUMED) + paused_note(conv)
