"""Union membership applications: status look-up for the worker (the flow comes in bot/flows)."""
from __future__ import annotations

NO_APPLICATION = "您还没有提交入会申请。回复「入会」即可开始申请。"


def status_text(session, worker) -> str:
    return NO_APPLICATION
