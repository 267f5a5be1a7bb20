"""The home-office roster for staff: who is registered, who checked in on a day (flagged first), who
has not yet, and a way to reach a worker through the hand-off inbox."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from bot import audit
from bot.models import Escalation, HealthCheckin, HomeOfficeRegistration, MembershipApplication, StaffUser, Worker
from bot.services import handoff
from bot.services.export import Sheet, day as iso, when, yes_no
from bot.services.home_office import Day, flags


@dataclass(frozen=True)
class Person:
    """A registered worker on one day: their period, their readings, and any open conversation."""

    registration: HomeOfficeRegistration
    name: str
    phone: str
    day: Day
    escalation: Escalation | None

    @property
    def worst(self) -> HealthCheckin | None:
        return self.day.worst

    @property
    def flagged(self) -> bool:
        return self.worst is not None and self.worst.flagged

    @property
    def why(self) -> str:
        worst = self.worst
        return "；".join(flags(worst.temperature, worst.symptoms, worst.test_result)) if worst else ""


@dataclass(frozen=True)
class Roster:
    day: date
    flagged: list[Person]
    missing: list[Person]
    fine: list[Person]

    @property
    def registered(self) -> int:
        return len(self.flagged) + len(self.missing) + len(self.fine)

    @property
    def everyone(self) -> list[Person]:
        return self.flagged + self.missing + self.fine


def roster(session, day: date) -> Roster:
    registrations = list(session.scalars(select(HomeOfficeRegistration).where(
        HomeOfficeRegistration.status == "active", HomeOfficeRegistration.start_date <= day,
        HomeOfficeRegistration.end_date >= day).order_by(HomeOfficeRegistration.id)))
    ids = [r.worker_id for r in registrations]
    readings: dict[int, list[HealthCheckin]] = {}
    for reading in session.scalars(select(HealthCheckin).where(HealthCheckin.day == day, HealthCheckin.worker_id.in_(ids))
                                   .order_by(HealthCheckin.id)):
        readings.setdefault(reading.worker_id, []).append(reading)
    people = {a.worker_id: a for a in session.scalars(select(MembershipApplication).where(
        MembershipApplication.worker_id.in_(ids)))}
    talks = {e.worker_id: e for e in session.scalars(select(Escalation).where(
        Escalation.worker_id.in_(ids), Escalation.status == "open"))}
    found = []
    for r in registrations:
        person = people.get(r.worker_id)
        name = person.name if person else f"微信用户 …{r.worker.openid[-6:]}"
        found.append(Person(r, name, person.phone if person else "", Day(tuple(readings.get(r.worker_id, ()))),
                            talks.get(r.worker_id)))
    flagged = sorted((p for p in found if p.flagged), key=lambda p: p.worst.temperature, reverse=True)
    return Roster(day, flagged, [p for p in found if p.worst is None],
                  [p for p in found if p.worst is not None and not p.flagged])


def contact(session, worker: Worker, staff: StaffUser, day: date) -> Escalation:
    """Open (or reuse) the worker's conversation in the inbox, assigned to this staff member, to reply
    through it. The worker stays with the bot; their answers show in the conversation."""
    escalation = handoff.current(session, worker)
    if escalation is None:
        escalation = handoff.open_escalation(session, worker, "staff_contact",
                                             detail=f"{day.isoformat()} 居家办公打卡：工作人员联系职工")
    escalation.assigned_to_id = escalation.assigned_to_id or staff.id
    session.flush()
    audit.record(session, f"staff:{staff.login}", "home_office.contact", "escalation", escalation.id,
                 worker_id=worker.id)
    return escalation


STATES = {"flagged": "异常", "missing": "未打卡", "fine": "正常"}


def sheet(roster_: Roster) -> Sheet:
    """The day's roster as a spreadsheet, in the page's order."""
    out = Sheet(f"居家办公打卡 {roster_.day.isoformat()}", [
        "状态", "姓名", "手机号", "工作单位", "街道/社区", "报备期间", "已向社区报备", "当天打卡次数", "体温（当天最差）",
        "症状", "核酸结果", "所在位置", "异常原因", "最后打卡"])
    for state, people in (("flagged", roster_.flagged), ("missing", roster_.missing), ("fine", roster_.fine)):
        for p in people:
            r, worst = p.registration, p.worst
            out.rows.append([STATES[state], p.name, p.phone, r.employer, r.community,
                             f"{iso(r.start_date)} 至 {iso(r.end_date)}", yes_no(r.reported_to_community), p.day.count,
                             worst.temperature if worst else "", "、".join(worst.symptoms) if worst else "",
                             (worst.test_result or "") if worst else "", worst.whereabouts if worst else "", p.why,
                             when(p.day.readings[-1].created_at) if p.day.readings else ""])
    return out
