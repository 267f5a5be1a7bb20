"""Canned replies staff maintain, with placeholders filled in for the worker at hand.

Placeholders are plain words in braces, replaced from a fixed table: {姓名} the worker's name
("您" when unknown), {工作人员} the staff member's name, {办公时间} OFFICE_HOURS. Anything else in
braces stays as written (str.format would let a reply reach into Python objects).
"""
from __future__ import annotations

import re

from sqlalchemy import select

from bot import audit
from bot.models import CannedReply, StaffUser

PLACEHOLDER = re.compile(r"\{(姓名|工作人员|办公时间)\}")
PLACEHOLDERS = ("{姓名}", "{工作人员}", "{办公时间}")
MAX_TITLE, MAX_BODY = 64, 600


class CannedError(ValueError):
    """A canned reply that cannot be saved (message for staff)."""


def all_replies(session) -> list[CannedReply]:
    return list(session.scalars(select(CannedReply).order_by(CannedReply.title)))


def fill(body: str, *, name: str | None, staff: StaffUser, office_hours: str) -> str:
    values = {"姓名": name or "您", "工作人员": staff.name, "办公时间": office_hours or "工作时间"}
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], body)


def save(session, staff: StaffUser, title: str, body: str, reply: CannedReply | None = None) -> CannedReply:
    """Create a canned reply, or change `reply`."""
    title, body = (title or "").strip(), (body or "").strip()
    if not title or not body:
        raise CannedError("标题和内容都要填写")
    if len(title) > MAX_TITLE or len(body) > MAX_BODY:
        raise CannedError(f"标题最多 {MAX_TITLE} 字，内容最多 {MAX_BODY} 字")
    clash = session.scalars(select(CannedReply).where(CannedReply.title == title)).first()
    if clash is not None and clash is not reply:
        raise CannedError(f"已有标题为「{title}」的常用回复")
    if reply is None:
        reply = CannedReply(title=title, body=body, updated_by=staff.login)
        session.add(reply)
    else:
        reply.title, reply.body, reply.updated_by = title, body, staff.login
    session.flush()
    audit.record(session, f"staff:{staff.login}", "canned.save", "canned_reply", reply.id, title=title)
    return reply


def delete(session, staff: StaffUser, reply: CannedReply) -> None:
    audit.record(session, f"staff:{staff.login}", "canned.delete", "canned_reply", reply.id, title=reply.title)
    session.delete(reply)
