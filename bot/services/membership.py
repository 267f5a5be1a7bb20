"""Union membership applications (入会申请): options, ID protection, consent, submit, withdraw, decide.

Domain only: the dialog and its wording live in bot/flows/membership.py, the workbench calls
`decide`. The raw ID number never reaches a row: it is kept as a Fernet token, a keyed hash
(uniqueness) and a masked copy; the message log masks it when the message is written (bot.masking).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import func, select

from bot import masking, outbox
from bot.clock import LOCAL_TZ, now
from bot.models import Consent, MembershipApplication, Outbox
from bot.services import crypto

OPTIONS_FILE = Path("config") / "membership.yaml"  # under the app root; MEMBERSHIP_OPTIONS_FILE overrides
UNION_ANSWERS = ("yes", "no", "unsure")
ACTIVE = ("pending", "approved")  # statuses that block another application
STATUS_LABELS = {"pending": "审核中", "approved": "已通过", "rejected": "未通过", "withdrawn": "已撤回"}
ID_LIKE = masking.ID_LIKE  # what an ID number looks like inside a longer message

class OptionsError(ValueError):
    """The membership options file is missing or malformed."""


# -- options (configuration, not code) ---------------------------------------------------------
def options() -> dict:
    """Districts, industries and routes from the options file (re-read when it changes)."""
    cfg = current_app.config
    path = Path(cfg.get("MEMBERSHIP_OPTIONS_FILE") or Path(current_app.root_path) / OPTIONS_FILE)
    try:
        return _load_options(str(path), path.stat().st_mtime_ns)
    except OSError as exc:
        raise OptionsError(f"{path}: cannot read membership options ({exc})") from exc


@lru_cache(maxsize=4)
def _load_options(path: str, _mtime: int) -> dict:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    for key in ("districts", "industries"):
        values = data.get(key)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise OptionsError(f"{path}: '{key}' must be a non-empty list of names")
    routes = data.get("routes")
    if not isinstance(routes, dict) or set(routes) != set(UNION_ANSWERS):
        raise OptionsError(f"{path}: 'routes' must map exactly {', '.join(UNION_ANSWERS)} to a union")
    return {"districts": list(data["districts"]), "industries": list(data["industries"]), "routes": routes}


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
    from datetime import UTC, datetime, time, timedelta

    from dateutil.relativedelta import relativedelta
    from sqlalchemy import and_, delete, or_

    last_day = today - relativedelta(months=keep_months)
    before = datetime.combine(last_day + timedelta(days=1), time(0), LOCAL_TZ).astimezone(UTC)
    rejected = func.coalesce(MembershipApplication.decided_at, MembershipApplication.updated_at)
    return session.execute(delete(MembershipApplication).where(or_(
        and_(MembershipApplication.status == "rejected", rejected < before),
        and_(MembershipApplication.status == "withdrawn", MembershipApplication.updated_at < before)))
        .execution_options(synchronize_session=False)).rowcount
