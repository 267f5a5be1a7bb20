"""Rows for the job tests: workers, home-office periods, bookings, applications (Beijing dates and times)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot import jobs
from bot.extensions import db
from bot.models import (HealthCheckin, HomeOfficeRegistration, LegalAidBooking, LegalAidSlot, MembershipApplication,
                        Outbox, Worker)

BEIJING = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    """'2024-05-20 14:00' in Beijing time, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


def utc(text: str) -> datetime:
    """The same moment in UTC, as rows store it (SQLite keeps a timestamp's wall time, not its zone)."""
    return at(text).astimezone(ZoneInfo("UTC"))


def worker(openid: str, **kw) -> Worker:
    row = Worker(openid=openid, **kw)
    db.session.add(row)
    db.session.flush()
    return row


def registration(w: Worker, start: str, end: str, **kw) -> HomeOfficeRegistration:
    row = HomeOfficeRegistration(worker_id=w.id, employer="某科技公司", community="和平街道", address="和平里1号",
                                 start_date=date.fromisoformat(start), end_date=date.fromisoformat(end),
                                 reported_to_community=True, **kw)
    db.session.add(row)
    db.session.flush()
    return row


def checkin(w: Worker, day: str, reg: HomeOfficeRegistration | None = None) -> HealthCheckin:
    row = HealthCheckin(worker_id=w.id, registration_id=reg.id if reg else None, day=date.fromisoformat(day),
                        temperature=36.5, symptoms=["无"], whereabouts="在家")
    db.session.add(row)
    db.session.flush()
    return row


def booking(w: Worker, starts: str, status: str = "booked", place: str = "市总工会职工法律服务中心") -> LegalAidBooking:
    start = utc(starts)
    slot = db.session.scalars(select(LegalAidSlot).where(LegalAidSlot.starts_at == start,
                                                         LegalAidSlot.place == place)).first()
    if slot is None:
        slot = LegalAidSlot(starts_at=start, ends_at=start + timedelta(hours=3), capacity=4, place=place)
        db.session.add(slot)
        db.session.flush()
    row = LegalAidBooking(worker_id=w.id, slot_id=slot.id, topic="欠薪", facts="三个月没发工资", day=at(starts).date(),
                          status=status)
    db.session.add(row)
    db.session.flush()
    return row


def application(w: Worker, status: str, *, decided: str | None = None, updated: str | None = None,
                created: str = "2023-01-01 09:00") -> MembershipApplication:
    row = MembershipApplication(
        worker_id=w.id, name="张三", phone="13800138000", id_number_encrypted="token", id_number_hash=f"hash-{w.id}",
        id_number_masked="1101**********1234", employer="某科技公司", employer_has_union="no", district="东城区",
        industry="制造业", status=status, decided_at=utc(decided) if decided else None,
        created_at=utc(created), updated_at=utc(updated or decided or created))
    db.session.add(row)
    db.session.flush()
    return row


def tick(app, holder: str = "test-scheduler"):
    """One scheduler tick in its own app context (and session), as a separate process would."""
    with app.app_context():
        try:
            return jobs.Scheduler(holder).tick()
        finally:
            db.session.remove()


def outbox_rows(app, **where) -> list[tuple]:
    """(dedupe_key, worker openid, purpose, not_before in Beijing time or None) of matching outbox rows."""
    with app.app_context():
        query = select(Outbox, Worker.openid).join(Worker, Worker.id == Outbox.worker_id)
        rows = db.session.execute(query.where(*[getattr(Outbox, k) == v for k, v in where.items()])
                                  .order_by(Outbox.id)).all()
        result = [(o.dedupe_key, openid, o.purpose,
                   o.not_before.replace(tzinfo=ZoneInfo("UTC")).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
                   if o.not_before else None) for o, openid in rows]
        db.session.remove()
    return result


def count(app, model) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
    return n
