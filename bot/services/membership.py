"""Union membership applications (入会申请): options, ID protection, submit, withdraw, decide, status.

The dialog lives in bot/flows/membership.py; staff decisions (dashboard, later) call `decide`.
The raw ID number never reaches a row: it is kept as a Fernet token, a keyed hash (uniqueness)
and a masked copy; the worker's message that carried it is masked in the message log.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import func, select

from bot.clock import LOCAL_TZ, aware, now
from bot.config_files import UNION_ANSWERS, MembershipOptions, read
from bot.models import MembershipApplication, Message, Outbox
from bot.reloading import file_value
from bot.services import crypto

OPTIONS_FILE = Path("config") / "membership.yaml"  # under the app root; MEMBERSHIP_OPTIONS_FILE overrides
ACTIVE = ("pending", "approved")  # statuses that block another application
STATUS_LABELS = {"pending": "审核中", "approved": "已通过", "rejected": "未通过", "withdrawn": "已撤回"}
# What an ID number (or a near miss) looks like in a message, spaces and dashes included.
ID_LIKE = re.compile(r"(?<!\d)(?:\d[ \t-]*){14,17}[\dXx](?!\d)")
LOG_SCAN = 10  # recent inbound messages searched for ID numbers to mask

WITHDRAW_HINT = "\n如需撤回申请：回复「入会」（或点菜单「入会申请」），再回复 1 撤回。"
NO_APPLICATION = "您还没有提交入会申请。回复「入会」即可开始申请。"
STATUS = {
    "pending": ("您的入会申请正在审核中（{day}提交，由{routed_to}办理）。\n"
                "姓名：{name}，身份证号：{masked}\n审核结果会通过本公众号通知您。"),
    "approved": "您的入会申请已于{decided}通过，欢迎加入工会！会员证由{routed_to}为您办理。",
    "rejected": ("您的入会申请未通过。原因：{reason}\n"
                 "您可以修改信息后重新申请：回复「入会」。有疑问请回复「转人工」。"),
    "withdrawn": "您已撤回入会申请，信息不再审核。需要时回复「入会」重新申请。",
}
DUPLICATE_ID = ("这个身份证号已经提交过入会申请（当前状态：{label}），不能重复提交。\n"
                "如果不是您本人提交的，请回复「转人工」，工作人员会帮您核实。")
DECIDED = {
    "approved": "好消息！您的入会申请已通过审核，欢迎加入工会！{routed_to}会与您联系办理会员证。",
    "rejected": ("您的入会申请未通过审核。原因：{reason}\n"
                 "您可以修改信息后重新申请：回复「入会」。有疑问请回复「转人工」。"),
}


class OptionsError(ValueError):
    """The membership options file is missing or malformed."""


# -- options (configuration, not code) ---------------------------------------------------------
def options() -> dict:
    """Districts, industries and routes from the options file (bot.config_files), re-read when
    it changes (bot.reloading: a broken edit keeps the last good options and is logged)."""
    cfg = current_app.config
    path = Path(cfg.get("MEMBERSHIP_OPTIONS_FILE") or Path(current_app.root_path) / OPTIONS_FILE)
    try:
        return file_value(path, _load_options)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise OptionsError(f"{path}: cannot read membership options ({exc})") from exc


def _load_options(path: Path) -> dict:
    found = read(path, MembershipOptions)
    return {"districts": list(found.districts), "industries": list(found.industries), "routes": dict(found.routes)}


def route_for(employer_has_union: str, district: str) -> str:
    """Which union handles the application: the employer's own, or the regional one."""
    return options()["routes"][employer_has_union].format(district=district)


# -- the ID number -----------------------------------------------------------------------------
def protect_id(id_number: str) -> dict:
    """What a dialog slot or a row may hold instead of the ID number."""
    return {"encrypted": crypto.encrypt(id_number), "hash": crypto.keyed_hash(id_number),
            "masked": crypto.mask_id_number(id_number)}


def mask_ids(text: str) -> str:
    """Text with every ID-number-like run masked (full-width digits, spaces and dashes included)."""
    text = unicodedata.normalize("NFKC", text or "")
    return ID_LIKE.sub(lambda m: crypto.mask_id_number(re.sub(r"[ \t-]", "", m.group()).upper()), text)


def mask_logged_ids(session, worker) -> None:
    """Mask ID numbers in the worker's recent inbound messages (the current one included)."""
    rows = session.scalars(select(Message).where(Message.worker_id == worker.id, Message.direction == "in")
                           .order_by(Message.id.desc()).limit(LOG_SCAN)).all()
    for message in rows:
        if ID_LIKE.search(unicodedata.normalize("NFKC", message.content or "")):
            message.content = mask_ids(message.content)


# -- look-ups ----------------------------------------------------------------------------------
def of_worker(session, worker) -> MembershipApplication | None:
    return session.scalars(select(MembershipApplication).where(MembershipApplication.worker_id == worker.id)).first()


def conflict(session, worker, id_hash: str | None) -> MembershipApplication | None:
    """The application that blocks this worker from applying with this ID number, if any."""
    own = of_worker(session, worker)
    if own is not None and own.status in ACTIVE:
        return own
    if id_hash:
        other = session.scalars(select(MembershipApplication).where(
            MembershipApplication.id_number_hash == id_hash, MembershipApplication.worker_id != worker.id)).first()
        return other
    return None


def duplicate_text(application: MembershipApplication) -> str:
    return DUPLICATE_ID.format(label=STATUS_LABELS[application.status])


def _day(value) -> str:
    local = aware(value).astimezone(LOCAL_TZ)
    return f"{local.year}年{local.month}月{local.day}日"


def describe(application: MembershipApplication) -> str:
    """The application's status in the worker's words."""
    return STATUS[application.status].format(
        day=_day(application.updated_at or application.created_at), routed_to=application.routed_to or "工会",
        name=application.name, masked=application.id_number_masked,
        decided=_day(application.decided_at) if application.decided_at else "",
        reason=application.reject_reason or "（未注明）")


def status_text(session, worker) -> str:
    """The worker's own application (union.application_status, menu 我的入会进度), with what they can do."""
    application = of_worker(session, worker)
    if application is None:
        return NO_APPLICATION
    return describe(application) + (WITHDRAW_HINT if application.status == "pending" else "")


# -- changes -----------------------------------------------------------------------------------
def submit(session, worker, fields: dict) -> MembershipApplication:
    """Create the worker's application, or reuse their rejected / withdrawn row, as pending.

    The caller has checked `conflict`; the unique constraints on worker and ID hash stay the
    last line of defence (a concurrent duplicate fails the flush and the webhook retries).
    """
    protected = fields["id"]
    values = dict(name=fields["name"], phone=fields["phone"], id_number_encrypted=protected["encrypted"],
                  id_number_hash=protected["hash"], id_number_masked=protected["masked"],
                  employer=fields["employer"], employer_has_union=fields["has_union"],
                  district=fields["district"], industry=fields["industry"],
                  routed_to=route_for(fields["has_union"], fields["district"]),
                  status="pending", reject_reason=None, decided_by=None, decided_at=None)
    application = of_worker(session, worker)
    if application is None:
        application = MembershipApplication(worker_id=worker.id, **values)
        session.add(application)
    else:
        if application.status in ACTIVE:
            raise ValueError(f"application {application.id} is already {application.status}")
        for key, value in values.items():
            setattr(application, key, value)
    session.flush()
    return application


def withdraw(session, application: MembershipApplication) -> None:
    if application.status != "pending":
        raise ValueError(f"only a pending application can be withdrawn (it is {application.status})")
    application.status = "withdrawn"
    session.flush()


def decide(session, application: MembershipApplication, approved: bool, reason: str | None,
           staff: str) -> Outbox:
    """Staff approve or reject a pending application; the worker is told through the outbox."""
    if application.status != "pending":
        raise ValueError(f"only a pending application can be decided (it is {application.status})")
    reason = (reason or "").strip() or None
    if not approved and reason is None:
        raise ValueError("a rejection needs a reason the worker can act on")
    status = "approved" if approved else "rejected"
    application.status, application.reject_reason = status, None if approved else reason
    application.decided_by, application.decided_at = staff, now()
    prefix = f"membership:{application.id}:"
    n = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.dedupe_key.startswith(prefix))) + 1
    message = Outbox(worker_id=application.worker_id, kind="text", purpose="decision", dedupe_key=f"{prefix}{status}:{n}",
                     payload={"content": DECIDED[status].format(routed_to=application.routed_to or "工会",
                                                                reason=reason)})
    session.add(message)
    session.flush()
    return message
