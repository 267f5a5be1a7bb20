"""居家办公报备 and 每日健康打卡: consent, registrations, daily check-ins and the queries around them.

Health data and whereabouts are sensitive personal information (PIPL art. 28), so nothing here
is written before the worker has given separate consent (a Consent row, purpose "health").
Nothing commits: the webhook's one transaction per message does.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, exists, select

from bot import masking
from bot.clock import LOCAL_TZ, aware, now
from bot.models import Consent, HealthCheckin, HomeOfficeRegistration
from bot.services import handoff

PURPOSE = "health"
NOTICE_VERSION = "1"
KEEP_DAYS = 30  # what the consent notice promises: kept 30 days after the period ends
FEVER = 37.3
NO_SYMPTOMS = "无"
POSITIVE = "阳性"


def local(moment):
    return aware(moment).astimezone(LOCAL_TZ)


# -- consent ------------------------------------------------------------------------------
def _consent(session, worker) -> Consent | None:
    return session.scalars(select(Consent).where(Consent.worker_id == worker.id,
                                                 Consent.purpose == PURPOSE)).first()


def has_consent(session, worker) -> bool:
    row = _consent(session, worker)
    return row is not None and row.withdrawn_at is None


def grant_consent(session, worker) -> Consent:
    """Record consent (one row per worker and purpose; a withdrawn one is granted again)."""
    row = _consent(session, worker)
    if row is None:
        row = Consent(worker_id=worker.id, purpose=PURPOSE, notice_version=NOTICE_VERSION)
        session.add(row)
    elif row.withdrawn_at is not None:
        row.withdrawn_at, row.granted_at, row.notice_version = None, now(), NOTICE_VERSION
    return row


# -- registrations ------------------------------------------------------------------------
def active_registration(session, worker) -> HomeOfficeRegistration | None:
    return session.scalars(select(HomeOfficeRegistration).where(
        HomeOfficeRegistration.worker_id == worker.id, HomeOfficeRegistration.status == "active")
        .order_by(HomeOfficeRegistration.id.desc())).first()


def register(session, worker, *, employer: str, community: str, address: str, start_date: date,
             end_date: date, reported_to_community: bool) -> HomeOfficeRegistration:
    if end_date < start_date:
        raise ValueError("end_date before start_date")
    for old in session.scalars(select(HomeOfficeRegistration).where(
            HomeOfficeRegistration.worker_id == worker.id, HomeOfficeRegistration.status == "active")):
        end(old)  # one active period per worker: a new registration replaces the old one
    registration = HomeOfficeRegistration(
        worker_id=worker.id, employer=employer[:128], community=community[:128], address=address[:256],
        start_date=start_date, end_date=end_date, reported_to_community=reported_to_community, status="active")
    session.add(registration)
    return registration


def end(registration: HomeOfficeRegistration) -> None:
    registration.status, registration.ended_at = "ended", now()


def extend(registration: HomeOfficeRegistration, new_end: date) -> None:
    if new_end <= registration.end_date:
        raise ValueError("an extension must end later than the current period")
    registration.end_date = new_end


# -- check-ins ----------------------------------------------------------------------------
def checkins_of(session, worker, day: date) -> list[HealthCheckin]:
    """Every reading of the worker's day, first first (a worker may check in more than once)."""
    return list(session.scalars(select(HealthCheckin).where(
        HealthCheckin.worker_id == worker.id, HealthCheckin.day == day).order_by(HealthCheckin.id)))


def flags(temperature: float, symptoms: list[str], test_result: str | None) -> list[str]:
    """Why a check-in needs attention (empty when it does not)."""
    found = []
    if temperature >= FEVER:
        found.append(f"体温{temperature:.1f}℃")
    if [s for s in symptoms if s != NO_SYMPTOMS]:
        found.append("症状：" + "、".join(s for s in symptoms if s != NO_SYMPTOMS))
    if test_result == POSITIVE:
        found.append("核酸阳性")
    return found


def severity(reading: HealthCheckin) -> tuple:
    """Orders a day's readings: a positive test, then a fever, then symptoms, then the temperature."""
    symptoms = [s for s in reading.symptoms if s != NO_SYMPTOMS]
    return (reading.test_result == POSITIVE, reading.temperature >= FEVER, len(symptoms), reading.temperature)


@dataclass(frozen=True)
class Day:
    """A worker's check-ins of one day: how many, and the worst (what the day shows)."""

    readings: tuple[HealthCheckin, ...]

    @property
    def count(self) -> int:
        return len(self.readings)

    @property
    def worst(self) -> HealthCheckin | None:
        return max(self.readings, key=severity, default=None)


def day_of(session, worker, day: date) -> Day:
    return Day(tuple(checkins_of(session, worker, day)))


def record_checkin(session, worker, day: date, *, temperature: float, symptoms: list[str],
                   test_result: str | None, test_date: date | None, whereabouts: str,
                   location: dict | None = None) -> tuple[HealthCheckin, Day]:
    """Save one reading: every reading is kept, so a later normal one never hides a flagged one.

    A flagged reading opens (or adds to) an escalation for staff at once; the worker stays with
    the bot. Returns the reading and the day it belongs to.
    """
    registration = active_registration(session, worker)
    reading = HealthCheckin(worker_id=worker.id, day=day, registration_id=registration.id if registration else None,
                            temperature=temperature, symptoms=list(symptoms), test_result=test_result,
                            test_date=test_date, whereabouts=masking.mask(whereabouts)[:256], location=location,
                            flagged=bool(flags(temperature, symptoms, test_result)))
    session.add(reading)
    session.flush()
    if reading.flagged:
        escalate(session, worker, day, reading)
    return reading, day_of(session, worker, day)


def escalate(session, worker, day: date, checkin: HealthCheckin) -> None:
    detail = f"{day.isoformat()} 健康打卡异常：" + "；".join(
        flags(checkin.temperature, checkin.symptoms, checkin.test_result)) + f"；行程：{checkin.whereabouts}"
    escalation = handoff.open_escalation(session, worker, "flagged_checkin", detail=detail)
    if escalation.detail != detail:  # an escalation was already open: add this to it
        escalation.detail = "\n".join(filter(None, [escalation.detail, detail]))


# -- queries for staff and reminders --------------------------------------------------------
def due_checkins(session, day: date) -> list[HomeOfficeRegistration]:
    """Active registrations covering `day` whose worker has not checked in that day."""
    done = exists().where(HealthCheckin.worker_id == HomeOfficeRegistration.worker_id, HealthCheckin.day == day)
    return list(session.scalars(select(HomeOfficeRegistration).where(
        HomeOfficeRegistration.status == "active", HomeOfficeRegistration.start_date <= day,
        HomeOfficeRegistration.end_date >= day, ~done).order_by(HomeOfficeRegistration.id)))


def purge(session, today: date, keep_days: int = KEEP_DAYS) -> int:
    """Delete health data kept longer than the consent notice says. Returns rows deleted.

    A registration goes, with its check-ins, `keep_days` after its period ended (its end date,
    or the day it was ended early); a check-in outside any registration goes `keep_days` after
    its day.
    """
    cutoff = today - timedelta(days=keep_days)
    old = [r for r in session.scalars(select(HomeOfficeRegistration))
           if min(r.end_date, local(r.ended_at).date() if r.ended_at else r.end_date) < cutoff]
    ids = [r.id for r in old]
    gone = session.execute(delete(HealthCheckin).where(
        HealthCheckin.registration_id.in_(ids)
        | (HealthCheckin.registration_id.is_(None) & (HealthCheckin.day < cutoff)))).rowcount
    for registration in old:
        session.delete(registration)
    return gone + len(old)
