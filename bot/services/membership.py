"""Union membership applications (入会申请): options, ID protection, consent, submit, withdraw, decide.

Domain only: the dialog and its wording live in bot/flows/membership.py, the workbench calls
`decide`. The raw ID number never reaches a row: it is kept as a Fernet token, a keyed hash
(uniqueness) and a masked copy; the message log masks it when the message is written (bot.masking).
"""
from __future__ import annotations

import re
import unicodedata
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import func, or_, select

from bot import audit, masking, outbox
from bot.clock import LOCAL_TZ, now
from bot.config_files import UNION_ANSWERS, MembershipOptions, read
from bot.models import Consent, MembershipApplication, Outbox
from bot.reloading import file_value
from bot.services import crypto

OPTIONS_FILE = Path("config") / "membership.yaml"  # under the app root; MEMBERSHIP_OPTIONS_FILE overrides
ACTIVE = ("pending", "approved")  # statuses that block another application
STATUS_LABELS = {"pending": "审核中", "approved": "已通过", "rejected": "未通过", "withdrawn": "已撤回"}
ID_LIKE = masking.ID_LIKE  # what an ID number looks like inside a longer message

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
            "masked": masking.mask_id_number(id_number)}


def grant_consent(session, worker, notice_version: str) -> Consent:
    """Record the worker's consent to the membership notice (the newest agreement counts)."""
    consent = session.scalars(select(Consent).where(
        Consent.worker_id == worker.id, Consent.purpose == "membership")).first()
    if consent is None:
        consent = Consent(worker_id=worker.id, purpose="membership", notice_version=notice_version)
        session.add(consent)
    else:  # agreed before (an earlier application)
        consent.notice_version, consent.granted_at, consent.withdrawn_at = notice_version, now(), None
    return consent


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
    """Staff approve or reject a pending application; the worker is told through the outbox
    (the notice is queued in the same transaction as the decision)."""
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
    return outbox.notify(session, application.worker_id, f"membership.{status}", f"{prefix}{status}:{n}",
                         purpose="decision", routed_to=application.routed_to or "工会", reason=reason)


# -- retention (for the scheduled retention job) -------------------------------------------------
KEEP_MONTHS = 6  # what the notice promises: "申请撤回或未通过的，处理完毕后6个月内删除"


def purge_closed(session, today, keep_months: int = KEEP_MONTHS) -> int:
    """Delete withdrawn and rejected applications processed `keep_months` months before `today`
    (a Beijing date) or earlier. Returns rows deleted.

    "处理完毕" is the decision for a rejection (decided_at) and the withdrawal for a withdrawn one
    (updated_at: withdraw() is the last change to such a row; re-applying makes it pending again,
    so it is no longer a candidate). Run daily, this deletes on the day six months later at the
    latest, which keeps "6个月内删除"; rows processed a day later are kept.
    """
    from datetime import UTC

    from dateutil.relativedelta import relativedelta
    from sqlalchemy import and_, delete, or_

    last_day = today - relativedelta(months=keep_months)
    before = datetime.combine(last_day + timedelta(days=1), time(0), LOCAL_TZ).astimezone(UTC)
    rejected = func.coalesce(MembershipApplication.decided_at, MembershipApplication.updated_at)
    return session.execute(delete(MembershipApplication).where(or_(
        and_(MembershipApplication.status == "rejected", rejected < before),
        and_(MembershipApplication.status == "withdrawn", MembershipApplication.updated_at < before)))
        .execution_options(synchronize_session=False)).rowcount


# -- issue 11: the workbench (search, review, bulk approve, audited ID reveal) --------------------
@dataclass(frozen=True)
class Filters:
    """What staff filter the application list by; every field optional."""

    status: str = ""
    district: str = ""
    industry: str = ""
    since: date | None = None  # submitted on or after this day (Beijing time)
    until: date | None = None  # … and on or before this one
    q: str = ""  # name, employer, phone, masked ID, or a whole ID number


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def search(session, filters: Filters, limit: int | None = 500) -> list[MembershipApplication]:
    """Applications matching the filters, newest first."""
    query = select(MembershipApplication)
    for column, value in ((MembershipApplication.status, filters.status),
                          (MembershipApplication.district, filters.district),
                          (MembershipApplication.industry, filters.industry)):
        if value:
            query = query.where(column == value)
    if filters.since:
        query = query.where(MembershipApplication.created_at >= _local_midnight(filters.since))
    if filters.until:
        query = query.where(MembershipApplication.created_at < _local_midnight(filters.until + timedelta(days=1)))
    q = unicodedata.normalize("NFKC", filters.q or "").strip()
    if q:
        matches = [column.contains(q, autoescape=True) for column in (
            MembershipApplication.name, MembershipApplication.employer, MembershipApplication.phone,
            MembershipApplication.id_number_masked)]
        if re.fullmatch(r"\d{17}[\dXx]", q):  # a whole ID number: found by its keyed hash, never stored plain
            matches.append(MembershipApplication.id_number_hash == crypto.keyed_hash(q.upper()))
        query = query.where(or_(*matches))
    query = query.order_by(MembershipApplication.created_at.desc(), MembershipApplication.id.desc())
    return list(session.scalars(query.limit(limit) if limit else query))


def review(session, application: MembershipApplication, approved: bool, reason: str | None,
           staff_login: str) -> Outbox:
    """A staff decision (`decide`), written to the audit log."""
    message = decide(session, application, approved, reason, staff_login)
    audit.record(session, f"staff:{staff_login}", "application.approve" if approved else "application.reject",
                 "membership_application", application.id, outbox_id=message.id if message else None)
    return message


def bulk_approve(session, application_ids, staff_login: str) -> tuple[list[MembershipApplication], int]:
    """Approve the pending ones among `application_ids`; returns them and how many were skipped."""
    rows = session.scalars(select(MembershipApplication).where(
        MembershipApplication.id.in_({int(i) for i in application_ids}))).all()
    done = [a for a in rows if a.status == "pending"]
    for application in done:
        review(session, application, True, None, staff_login)
    return done, len(set(application_ids)) - len(done)


def reveal_id(session, application: MembershipApplication, staff_login: str) -> str:
    """The full ID number for an admin; every reveal is an audit row."""
    audit.record(session, f"staff:{staff_login}", "application.reveal_id", "membership_application", application.id)
    return crypto.decrypt(application.id_number_encrypted)
