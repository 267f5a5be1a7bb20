"""Sending stopped for every process: 40164 (IP not whitelisted) and 45009 (daily API quota).

Stored in the KeyValue table, so every sender on every machine sees it and the operator sees it in
`flask outbox status`. 40164 lasts until `flask outbox resume` (after the server's IP is added to
the whitelist); 45009 lasts until the next day, Beijing time, when WeChat's daily quotas start over.
The first process to store a stop logs it and writes an audit row: the operator is told once.
https://developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.clock import LOCAL_TZ, aware, local_now, now
from bot.models import KeyValue
from bot.storage import write_transaction

log = logging.getLogger(__name__)
IP_NOT_WHITELISTED, DAILY_QUOTA = 40164, 45009
PREFIX = "wechat:stop:"


@dataclass(frozen=True)
class Stop:
    errcode: int
    errmsg: str
    since: datetime
    until: datetime | None  # None: until an operator runs `flask outbox resume`

    def describe(self) -> str:
        if self.errcode == IP_NOT_WHITELISTED:
            return (f"STOPPED since {self.since:%Y-%m-%d %H:%M} UTC: WeChat refused this server's IP (40164: "
                    f"{self.errmsg}). Add the IP to 设置与开发 → 基本配置 → IP白名单, then run `flask outbox resume`.")
        return (f"PAUSED until {self.until.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M} Beijing time: WeChat's daily "
                f"API quota is used up (45009: {self.errmsg}). Sending resumes by itself then.")


def stop(engine, errcode: int, errmsg: str | None) -> bool:
    """Store that sending must stop; True (and the one log line, and an audit row) only for the
    process that stored it first, so the operator is told once however many senders hit it."""
    until = None
    if errcode == DAILY_QUOTA:  # WeChat's daily quotas start again at midnight, Beijing time
        tomorrow = local_now().date() + timedelta(days=1)
        until = datetime.combine(tomorrow, time(0, 0), LOCAL_TZ).astimezone(UTC)  # stored as UTC
    key = f"{PREFIX}{errcode}"
    with Session(engine) as session:
        write_transaction(session)
        row = session.get(KeyValue, key)
        if row is not None and (row.expires_at is None or aware(row.expires_at) > now()):
            return False
        value = json.dumps({"errcode": errcode, "errmsg": errmsg or "", "since": now().isoformat()})
        if row is None:
            session.add(KeyValue(key=key, value=value, expires_at=until))
        else:
            row.value, row.expires_at = value, until
        audit.record(session, "job:outbox", "wechat.sending_stopped", "wechat_api", errcode, errmsg=errmsg or "")
        session.commit()
    message = Stop(errcode, errmsg or "", now(), until).describe()
    (log.error if errcode == IP_NOT_WHITELISTED else log.warning)("outbox: %s", message)
    return True


def stops(session) -> list[Stop]:
    """What keeps the outbox from sending right now (empty: nothing)."""
    rows = session.scalars(select(KeyValue).where(KeyValue.key.startswith(PREFIX))).all()
    result = []
    for row in rows:
        until = aware(row.expires_at)
        if until is None or until > now():
            data = json.loads(row.value)
            result.append(Stop(data["errcode"], data["errmsg"], datetime.fromisoformat(data["since"]), until))
    return result


def resume(session, actor: str) -> int:
    """Clear the stops (after the IP was whitelisted); in the caller's transaction."""
    rows = session.scalars(select(KeyValue).where(KeyValue.key.startswith(PREFIX))).all()
    for row in rows:
        session.delete(row)
    if rows:
        audit.record(session, actor, "wechat.sending_resumed", "wechat_api", None, cleared=[r.key for r in rows])
    return len(rows)
