"""How the workbench shows things: labels for reasons and statuses, local times, ages (template filters)."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import LOCAL_TZ, aware, now
from bot.services.alerts import PUSH_LABELS
from bot.services.export import REASONS
from bot.services.membership import STATUS_LABELS

TAB_LABELS = {"unassigned": "未分配", "mine": "我的", "waiting": "等待职工回复", "open": "全部未结",
              "kf": "在微信客服工具中", "closed": "已结案"}
OUTBOX_LABELS = {"pending": "排队中", "sending": "发送中", "sent": "已发出", "failed": "发送失败",
                 "unknown": "状态未知，请核实", "skipped": "未发送（职工已取关）", "parked": "已暂存，职工下次发消息时送达"}
ESCALATION_LABELS = {"open": "处理中", "closed": "已结案"}


def local(value: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    return aware(value).astimezone(LOCAL_TZ).strftime(fmt) if value else ""


def duration(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} 分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时 {minutes % 60} 分"
    return f"{minutes // (24 * 60)} 天"


def until(value: datetime | None) -> str:
    """'还剩 20 分钟' or '已超时 1 小时 5 分'."""
    if value is None:
        return ""
    left = aware(value) - now()
    return f"还剩 {duration(left)}" if left.total_seconds() >= 0 else f"已超时 {duration(-left)}"


def init_app(app) -> None:
    app.add_template_filter(local, "local")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(until, "until")
    app.jinja_env.globals.update(REASON_LABELS=REASONS, TAB_LABELS=TAB_LABELS, OUTBOX_LABELS=OUTBOX_LABELS,
                                 APPLICATION_LABELS=STATUS_LABELS, ESCALATION_LABELS=ESCALATION_LABELS,
                                 PUSH_LABELS=PUSH_LABELS)
