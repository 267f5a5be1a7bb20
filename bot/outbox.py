"""Queued outbound messages and WeChat's rules for them: the 48-hour window, templates, parking.

Every message sent outside a passive reply is an Outbox row written in the same transaction as its
cause, with a unique dedupe key; bot/sender.py sends the rows. A customer-service (text) message
may go out only while the worker's window is open
(https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html);
otherwise it becomes the template configured for its purpose (bot/wechat_templates.py) or, where
none fits, it is parked and handed to the webhook as the reply to the worker's next message.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, bindparam, case, func, or_, select, update

from bot import texts, wechat_templates
from bot.clock import LOCAL_TZ, aware, now
from bot.models import OUTBOX_PURPOSES, Outbox, Worker

PURPOSES = OUTBOX_PURPOSES
# What a row becomes when its sender died during the customer-service call (WeChat may or may not
# have it; WeChat has no idempotency key for these): a missed reminder is better than two, every
# other message is sent again. Template sends carry client_msg_id, so WeChat itself dedupes them.
AT_MOST_ONCE = frozenset({"reminder"})
WINDOW_REFUSED = (45015, 45047)  # WeChat: window closed / quota used, whatever our count says
Route = Literal["custom", "template", "park"]


def queue(session, worker_id: int, content: str, dedupe_key: str, kind: str = "text", *,
          purpose: str = "notice", not_before=None, **payload) -> Outbox | None:
    """Add a message to the outbox in the caller's transaction (unique dedupe_key: queueing twice
    is a no-op and returns None). `purpose` picks the sending rules; `not_before` delays it; the
    rest of `payload` fills the purpose's template (see config/wechat_templates.yaml)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown outbox purpose {purpose!r}")
    if session.scalars(select(Outbox.id).where(Outbox.dedupe_key == dedupe_key)).first() is not None:
        return None
    row = Outbox(worker_id=worker_id, kind=kind, dedupe_key=dedupe_key, purpose=purpose,
                 not_before=not_before, payload={"content": content, **payload})
    session.add(row)
    return row


def notify(session, worker_id: int, notice: str, dedupe_key: str, *, purpose: str = "notice",
           not_before=None, **params) -> Outbox | None:
    """Queue one of the worker notices in bot/texts.py NOTICES, filled with `params`: services say
    what happened (membership.approved, handoff.closed …), the wording lives with the other texts."""
    # The params also fill the purpose's template message when the window is closed (wechat_templates.yaml).
    return queue(session, worker_id, texts.NOTICES[notice].format(**params), dedupe_key, purpose=purpose,
                 not_before=not_before, notice=notice, **{k: v for k, v in params.items() if v is not None})


def queue_late_reply(session, worker_id: int, text: str, dedupe_key: str) -> Outbox | None:
    """An answer produced after WeChat stopped waiting for the passive reply (sent at least once)."""
    return queue(session, worker_id, text, dedupe_key, purpose="late_reply")


@dataclass(frozen=True)
class Window:
    """WeChat's customer-service window for one worker: customer-service messages may be sent until
    `until` (48 h after the worker's last interaction) and at most `quota` of them in that time.
    `refused`: WeChat answered 45015 / 45047 since then, so the window is closed whatever we count.
    """

    until: datetime | None
    sent: int
    quota: int
    refused: bool = False

    @property
    def remaining(self) -> int:
        return max(self.quota - self.sent, 0) if self.is_open else 0

    @property
    def is_open(self) -> bool:
        return self.until is not None and now() < self.until and self.sent < self.quota and not self.refused


def window(session, worker, config) -> Window:
    """The worker's window now: from their last interaction (Worker.last_seen_at, kept to the
    minute) and the customer-service messages sent (or refused by WeChat) since then."""
    return windows(session, [worker], config)[worker.id]


_SENT_CUSTOM = and_(Outbox.status == "sent", Outbox.sent_as == "custom", Outbox.sent_at >= Worker.last_seen_at)
_REFUSED = and_(Outbox.last_errcode.in_(WINDOW_REFUSED), Outbox.claimed_at >= Worker.last_seen_at)
WINDOW_COUNTS = (
    select(Outbox.worker_id, func.count(case((_SENT_CUSTOM, 1))), func.count(case((_REFUSED, 1))))
    .join(Worker, Worker.id == Outbox.worker_id)
    .where(Outbox.worker_id.in_(bindparam("ids", expanding=True)), or_(_SENT_CUSTOM, _REFUSED))
    .group_by(Outbox.worker_id))


def windows(session, workers, config) -> dict[int, Window]:
    """window() for many workers in one query (the sender asks for a whole batch at once).
    `workers`: objects with .id and .last_seen_at (as stored)."""
    quota, hours = int(config.get("CS_WINDOW_QUOTA", 5)), timedelta(hours=int(config.get("CS_WINDOW_HOURS", 48)))
    seen = {w.id: aware(w.last_seen_at) for w in workers}
    ids = [wid for wid, last in seen.items() if last is not None]
    rows = session.execute(WINDOW_COUNTS, {"ids": ids}) if ids else ()
    counts = {wid: (sent, refused) for wid, sent, refused in rows}
    result = {}
    for wid, last in seen.items():
        sent, refused = counts.get(wid, (0, 0))
        result[wid] = Window(None if last is None else last + hours, int(sent), quota, bool(refused))
    return result


def route_for(session, worker, config, purpose: str) -> Route:
    """What a text message of this purpose to this worker would be sent as right now."""
    return window_status(session, worker, config, purpose)[0]


def describe_window(session, worker, config, purpose: str = "staff_reply") -> str:
    """For staff: the worker's window and, when it is closed, why and what a reply becomes (Chinese)."""
    return window_status(session, worker, config, purpose)[1]


def window_status(session, worker, config, purpose: str = "staff_reply") -> tuple[Route, str]:
    """route_for and describe_window from one look at the window and the templates."""
    w = window(session, worker, config)
    if w.is_open:
        return "custom", f"窗口至 {_when(w.until)}，还可发 {w.remaining} 条"
    if w.until is None:
        why = "职工还没有和公众号互动过"
    elif now() >= w.until:
        hours = int(config.get("CS_WINDOW_HOURS", 48))
        why = f"职工最后一次互动在 {_when(w.until - timedelta(hours=hours))}，已超过 {hours} 小时"
    elif w.refused:
        why = "微信已拒收本窗口的客服消息"
    else:
        why = f"本窗口 {w.quota} 条客服消息已用完"
    templates = wechat_templates.load(config)
    if templates.for_purpose(purpose):
        route, becomes = "template", "回复会改用模板消息发送（每项最多 20 字，超出部分省略）"
    else:
        route, becomes = "park", "回复会暂存，职工下次发消息时送达"
        if templates.notice.configured:
            becomes += "，并先发一条模板提醒"
    return route, f"窗口已关闭（{why}）：{becomes}"


def take_parked(session, worker_id: int, room: int | None = None) -> list[str]:
    """The parked messages for this worker, oldest first, marked delivered (in the caller's
    transaction): the webhook puts them into the passive reply. `room`: UTF-8 bytes the passive
    reply has left for them (each takes its length + 2 for the blank line); those that do not fit go
    back to pending, for the sender to send now that the worker's message has opened the window;
    those whose payload `expires_at` has passed (a reminder for a day that is over) become expired.
    One index lookup when none."""
    rows = session.execute(select(Outbox.id, Outbox.payload).where(
        Outbox.worker_id == worker_id, Outbox.status == "parked").order_by(Outbox.id)).all()
    if not rows:
        return []
    taken, later, expired, used = [], [], [], 0
    for row in rows:
        expires = row.payload.get("expires_at")
        if expires and datetime.fromisoformat(expires) <= now():  # a reminder for a day that is over
            expired.append(row.id)
            continue
        size = len(row.payload.get("content", "").encode("utf-8")) + 2
        if not later and (room is None or used + size <= room):
            taken.append(row)
            used += size
        else:
            later.append(row.id)
    if taken:
        session.execute(update(Outbox).where(Outbox.id.in_([r.id for r in taken]), Outbox.status == "parked")
                        .values(status="delivered", sent_as="passive", sent_at=now()))
    if expired:
        session.execute(update(Outbox).where(Outbox.id.in_(expired), Outbox.status == "parked")
                        .values(status="expired"))
    if later:
        session.execute(update(Outbox).where(Outbox.id.in_(later), Outbox.status == "parked")
                        .values(status="pending", not_before=None, claimed_by=None))
    return [r.payload.get("content", "") for r in taken]


@dataclass(frozen=True)
class Plan:
    """What a row becomes now: route "custom" / "template" with the body WeChat wants, "park",
    "expired", or "invalid" (a template row whose values cannot be made valid)."""

    route: str
    body: dict | None = None


def plan(openid: str, kind: str, purpose: str, payload: dict, dedupe_key: str, window: Window | None,
         templates: wechat_templates.Templates, keep_template: bool = False) -> Plan:
    """Customer-service text while the window is open; else the purpose's template if it fits;
    else park. A row queued as a template (kind="template") is always one. `keep_template`: an
    earlier attempt went out as a template, so the retry must too (WeChat dedupes it). A message
    whose payload `expires_at` has passed (a reminder for a day that is over) is "expired"."""
    expires = payload.get("expires_at")
    if expires and datetime.fromisoformat(expires) <= now():
        return Plan("expired")
    if kind == "template":
        data = wechat_templates.fit_data(payload.get("data"))
        if data is None:
            return Plan("invalid")
        return template_message(openid, dedupe_key, payload.get("template_id", ""), data, payload.get("url"))
    if not keep_template and window is not None and window.is_open:
        return Plan("custom", {"touser": openid, "msgtype": "text", "text": {"content": payload.get("content", "")}})
    spec = templates.for_purpose(purpose)
    filled = spec and wechat_templates.fill(spec, payload)
    if filled:
        return template_message(openid, dedupe_key, filled.template_id, filled.data, filled.url)
    return Plan("park")


def template_message(openid: str, dedupe_key: str, template_id: str, data: dict, url: str | None) -> Plan:
    """A template send carrying client_msg_id = the row's dedupe key (at most 64 characters), so
    WeChat itself drops a second send of the same row."""
    key = dedupe_key if len(dedupe_key) <= 64 else "h:" + hashlib.sha1(dedupe_key.encode()).hexdigest()
    body = {"touser": openid, "template_id": template_id, "data": data, "client_msg_id": key}
    if url:
        body["url"] = url
    return Plan("template", body)


def queue_parked_notice(session, worker_id: int, last_seen_at, templates: wechat_templates.Templates) -> None:
    """The short "you have a new reply" template, once per worker between two of their messages
    (the dedupe key carries their last interaction), if a notice template is configured."""
    filled = templates.notice.configured and wechat_templates.fill(templates.notice, {"content": ""})
    if filled:
        seen = last_seen_at.isoformat() if last_seen_at else "never"
        text = "；".join(v["value"] for v in filled.data.values())
        queue(session, worker_id, text, f"parked-notice:{worker_id}:{seen}", kind="template", purpose="notice",
              template_id=filled.template_id, data=filled.data, url=filled.url)


def after_call(purpose: str, route: str, outcome: str, errcode: int | None, attempts: int, max_attempts: int) -> str:
    """What a row becomes after an API call (`attempts` counts this one):
    sent | reroute (WeChat says the window is closed) | unfollowed (43004) | stop (40164, 45009:
    not the row's fault) | failed | unknown (maybe delivered, not resent) | retry."""
    if outcome == "ok":
        return "sent"
    if errcode in WINDOW_REFUSED and route == "custom":
        return "reroute"
    if errcode == 43004:
        return "unfollowed"
    if errcode in (40164, 45009):
        return "stop"
    if errcode == 47003:  # the values were checked before sending: retrying cannot help
        return "failed"
    if outcome == "maybe" and route == "custom" and purpose in AT_MOST_ONCE:
        return "unknown"
    return "failed" if attempts >= max_attempts else "retry"


def after_crash(purpose: str, sent_as: str | None) -> str:
    """What a row found in flight (its sender died during the API call) becomes: "pending" (send
    again) or "unknown" (maybe sent; staff decide)."""
    if sent_as == "template" or purpose not in AT_MOST_ONCE:
        return "pending"
    return "unknown"


def _when(moment: datetime) -> str:
    local = moment.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日 {local:%H:%M}"
