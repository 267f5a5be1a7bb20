"""Workers' requests about their personal data (PIPL art. 44–47): see it, have it deleted, withdraw consent.

`request` records what the worker asked (a withdrawal takes effect at once); staff then see
everything stored about the worker (`inventory`, every table that holds it), export it for them,
and delete it (`erase`). TABLES is the one list of what holds a worker's data; a test checks that
every table with a worker column is on it or in KEPT with the reason. Domain only; the caller
commits; every staff action is audited (counts, never contents).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from bot import audit, masking, outbox
from bot.clock import now
from bot.models import (Consent, DeliveryReceipt, Dialog, Escalation, EscalationNote, FeedbackVote, HealthCheckin,
                        HomeOfficeRegistration, LegalAidBooking, MembershipApplication, Message, Outbox, Presence,
                        PrivacyRequest, RouteLog, StaffAlert, Worker)
from bot.services import home_office
from bot.services.export import HAS_UNION, REASONS, STATUS, Sheet, day, when, yes_no

KINDS = {"show": "查询我的信息", "delete": "删除我的信息", "withdraw": "撤回同意"}
PURPOSES = {"membership": "入会申请", "health": "健康信息（居家办公报备和健康打卡）"}
STATUS_LABELS = {"open": "待处理", "done": "已处理"}
OUTCOMES = {"deleted": "已删除", "answered": "已答复职工"}


def _json(value) -> str:
    return masking.mask(json.dumps(value, ensure_ascii=False)) if value else ""


# What each table holds about the worker, as the worker reads it: (model, title, [(header, value)], rows).
def _by_worker(model):
    return lambda session, worker: session.scalars(select(model).where(model.worker_id == worker.id)
                                                   .order_by(model.id)).all()


def _by_escalation(model):
    return lambda session, worker: session.scalars(select(model).join(Escalation).where(
        Escalation.worker_id == worker.id).order_by(model.id)).all()


TABLES = [
    (Worker, "关注信息", [("OpenID", lambda w: w.openid), ("是否关注", lambda w: yes_no(w.subscribed)),
                      ("关注时间", lambda w: when(w.subscribed_at)), ("取消关注时间", lambda w: when(w.unsubscribed_at)),
                      ("扫码来源", lambda w: w.scene or ""), ("首次互动", lambda w: when(w.created_at)),
                      ("最近互动", lambda w: when(w.last_seen_at)), ("已退订提醒", lambda w: yes_no(w.reminders_off))],
     lambda session, worker: [worker]),
    (MembershipApplication, "入会申请", [
        ("姓名", lambda a: a.name), ("手机号", lambda a: a.phone), ("身份证号（打码）", lambda a: a.id_number_masked),
        ("工作单位", lambda a: a.employer), ("单位有无工会", lambda a: HAS_UNION.get(a.employer_has_union, "")),
        ("所在区", lambda a: a.district), ("行业", lambda a: a.industry),
        ("状态", lambda a: STATUS["membership"].get(a.status, a.status)), ("未通过原因", lambda a: a.reject_reason or ""),
        ("提交时间", lambda a: when(a.created_at))], _by_worker(MembershipApplication)),
    (Consent, "同意记录", [("事项", lambda c: PURPOSES.get(c.purpose, c.purpose)), ("告知版本", lambda c: c.notice_version),
                       ("同意时间", lambda c: when(c.granted_at)), ("撤回时间", lambda c: when(c.withdrawn_at))],
     _by_worker(Consent)),
    (HomeOfficeRegistration, "居家办公报备", [
        ("工作单位", lambda r: r.employer), ("街道/社区", lambda r: r.community), ("居住地址", lambda r: r.address),
        ("开始日期", lambda r: day(r.start_date)), ("结束日期", lambda r: day(r.end_date)),
        ("已向社区报备", lambda r: yes_no(r.reported_to_community)),
        ("状态", lambda r: STATUS["registration"].get(r.status, r.status)), ("报备时间", lambda r: when(r.created_at))],
     _by_worker(HomeOfficeRegistration)),
    (HealthCheckin, "健康打卡", [
        ("日期", lambda c: day(c.day)), ("体温", lambda c: c.temperature), ("症状", lambda c: "、".join(c.symptoms or [])),
        ("核酸结果", lambda c: c.test_result or ""), ("检测日期", lambda c: day(c.test_date)),
        ("所在位置", lambda c: c.whereabouts), ("定位", lambda c: _json(c.location)), ("异常", lambda c: yes_no(c.flagged)),
        ("打卡时间", lambda c: when(c.created_at))], _by_worker(HealthCheckin)),
    (LegalAidBooking, "法律援助预约", [
        ("问题类别", lambda b: b.topic), ("情况描述", lambda b: b.facts), ("咨询日期", lambda b: day(b.day)),
        ("手机号", lambda b: b.phone or ""), ("状态", lambda b: STATUS["booking"].get(b.status, b.status)),
        ("预约时间", lambda b: when(b.created_at))], _by_worker(LegalAidBooking)),
    (Escalation, "人工服务", [
        ("原因", lambda e: REASONS.get(e.reason, e.reason)), ("说明", lambda e: e.detail or ""),
        ("状态", lambda e: STATUS["escalation"].get(e.status, e.status)), ("评分", lambda e: e.rating or ""),
        ("开始", lambda e: when(e.created_at)), ("结束", lambda e: when(e.closed_at)),
        ("当时的对话", lambda e: _json(e.transcript))], _by_worker(Escalation)),
    (EscalationNote, "工作人员备注", [("内容", lambda n: n.body), ("时间", lambda n: when(n.created_at))],
     _by_escalation(EscalationNote)),
    (Message, "聊天记录", [("方向", lambda m: "职工" if m.direction == "in" else "公众号"), ("类型", lambda m: m.kind),
                       ("内容", lambda m: m.content), ("时间", lambda m: when(m.created_at))], _by_worker(Message)),
    (Outbox, "公众号发给职工的消息", [("用途", lambda o: o.purpose), ("内容", lambda o: o.payload.get("content", "")),
                             ("状态", lambda o: o.status), ("时间", lambda o: when(o.created_at))], _by_worker(Outbox)),
    (DeliveryReceipt, "模板消息送达回执", [("消息编号", lambda r: r.wechat_msg_id), ("结果", lambda r: r.status),
                                   ("时间", lambda r: when(r.received_at))], _by_worker(DeliveryReceipt)),
    (RouteLog, "自动问答记录", [("问题", lambda r: r.text), ("结果", lambda r: r.decision), ("条目", lambda r: r.target or ""),
                          ("时间", lambda r: when(r.created_at))], _by_worker(RouteLog)),
    (FeedbackVote, "回答评价", [("条目", lambda v: v.faq_id), ("有帮助", lambda v: yes_no(v.helpful)),
                            ("时间", lambda v: when(v.created_at))], _by_worker(FeedbackVote)),
    (Dialog, "办理中的事项", [("事项", lambda d: d.flow or ""), ("步骤", lambda d: d.state or ""),
                         ("已填内容", lambda d: _json(d.slots)), ("更新时间", lambda d: when(d.updated_at))],
     _by_worker(Dialog)),
    (PrivacyRequest, "个人信息申请", [("申请", lambda p: KINDS.get(p.kind, p.kind)),
                                ("状态", lambda p: STATUS_LABELS.get(p.status, p.status)),
                                ("提出时间", lambda p: when(p.created_at)), ("处理时间", lambda p: when(p.handled_at))],
     _by_worker(PrivacyRequest)),
]
# Tables that hold something about a worker but are not erased, and why (a test keeps this list honest).
KEPT = {
    "worker": "the OpenID and whether they follow the account: needed to tell them the data is gone; "
              "WeChat sends the OpenID again with any new message",
    "privacy_request": "the record that the request was made and handled (no content)",
    "audit_log": "who did what to which record: counts and ids, never contents",
    "job_occurrence": "once-only keys of scheduled jobs (a worker id and a date, no content)",
    "presence": "erased with the worker's hand-offs (it has no worker column of its own)",
    "staff_alert": "erased with the worker's hand-offs (it has no worker column of its own)",
}


@dataclass
class Section:
    table: str
    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)


def inventory(session, worker: Worker) -> list[Section]:
    """Everything stored about the worker, one section per table (empty ones included)."""
    found = []
    for model, title, columns, rows_of in TABLES:
        section = Section(model.__tablename__, title, [h for h, _ in columns])
        section.rows = [[value(row) for _, value in columns] for row in rows_of(session, worker)]
        found.append(section)
    return found


def export_sheets(session, worker: Worker) -> list[Sheet]:
    """The worker's data as spreadsheet sheets (bot.services.export.to_bytes), empty tables left out."""
    return [Sheet(s.title, s.headers, s.rows) for s in inventory(session, worker) if s.rows]


# -- the worker's request --------------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    request: PrivacyRequest | None
    created: bool  # False: the same request was already open
    withdrawn: list[str] = field(default_factory=list)  # purposes whose consent was withdrawn now
    ended_home_office: bool = False


def request(session, worker: Worker, kind: str) -> Received:
    """Record the request. 撤回同意 takes effect at once: every consent is withdrawn (and a home-office
    period, which needs the health consent, ends, so no more check-in reminders)."""
    if kind not in KINDS:
        raise ValueError(f"unknown privacy request {kind!r}")
    existing = session.scalars(select(PrivacyRequest).where(
        PrivacyRequest.worker_id == worker.id, PrivacyRequest.kind == kind, PrivacyRequest.status == "open")).first()
    withdrawn, ended = [], False
    if kind == "withdraw":
        for consent in session.scalars(select(Consent).where(Consent.worker_id == worker.id,
                                                             Consent.withdrawn_at.is_(None))):
            consent.withdrawn_at = now()
            withdrawn.append(consent.purpose)
        if "health" in withdrawn:
            registration = home_office.active_registration(session, worker)
            if registration is not None:
                home_office.end(registration)
                ended = True
        if not withdrawn and existing is None:
            return Received(None, False)
    if existing is not None:
        return Received(existing, False, withdrawn, ended)
    row = PrivacyRequest(worker_id=worker.id, kind=kind)
    session.add(row)
    session.flush()
    audit.record(session, f"worker:{worker.id}", "privacy.request", "privacy_request", row.id, kind=kind,
                 withdrawn=withdrawn)
    return Received(row, True, withdrawn, ended)


def requests(session, status: str | None = None, limit: int = 200) -> list[PrivacyRequest]:
    query = select(PrivacyRequest)
    if status:
        query = query.where(PrivacyRequest.status == status)
    return list(session.scalars(query.order_by(PrivacyRequest.status.desc(), PrivacyRequest.id.desc()).limit(limit)))


def _done(req: PrivacyRequest, actor: str, outcome: str) -> None:
    req.status, req.handled_at, req.handled_by, req.outcome = "done", now(), actor[:64], outcome


def summary(sections: list[Section]) -> str:
    """What is stored, in a few lines the worker can read in a chat: each kind of data and how much."""
    lines = [f"· {s.title}：{len(s.rows)} 条" for s in sections if s.rows and s.table not in ("worker", "privacy_request")]
    return "\n".join(lines) or "· 除关注信息外，没有保存您的其他信息"


def answer(session, req: PrivacyRequest, actor: str) -> Outbox | None:
    """Close a 查询 / 撤回 request: the worker gets the summary of what is stored (through the outbox)."""
    if req.status != "open":
        raise ValueError("already handled")
    _done(req, actor, "answered")
    audit.record(session, actor, "privacy.answer", "privacy_request", req.id, kind=req.kind)
    notice = "privacy.shown" if req.kind == "show" else "privacy.withdrawn"
    return outbox.notify(session, req.worker_id, notice, f"privacy:{req.id}:answered",
                         summary=summary(inventory(session, req.worker)))


def erase(session, req: PrivacyRequest, actor: str) -> dict[str, int]:
    """Delete everything stored about the request's worker except what KEPT says, then tell them.

    Returns rows deleted per table (also in the audit row). Open requests of the worker are closed."""
    worker = req.worker
    escalations = select(Escalation.id).where(Escalation.worker_id == worker.id)
    counts = {}
    for model in (EscalationNote, Presence, StaffAlert):
        counts[model.__tablename__] = session.execute(delete(model).where(model.escalation_id.in_(escalations))).rowcount
    for model in (HealthCheckin, HomeOfficeRegistration, LegalAidBooking, MembershipApplication, Consent, FeedbackVote,
                  RouteLog, DeliveryReceipt, Escalation, Outbox, Message, Dialog):
        counts[model.__tablename__] = session.execute(delete(model).where(model.worker_id == worker.id)).rowcount
    worker.scene, worker.owner = None, "bot"
    for other in session.scalars(select(PrivacyRequest).where(PrivacyRequest.worker_id == worker.id,
                                                              PrivacyRequest.status == "open")):
        _done(other, actor, "deleted")
    session.flush()
    session.expire_all()  # rows deleted in bulk may still sit in the session's identity map
    audit.record(session, actor, "privacy.delete", "privacy_request", req.id, worker_id=worker.id,
                 rows={k: v for k, v in counts.items() if v})
    outbox.notify(session, worker.id, "privacy.deleted", f"privacy:{req.id}:deleted")
    return counts
