"""The home-office roster: registered workers, the day's check-ins (flagged first), who has not
checked in yet, a way to reach a worker (a reply through the inbox), and the day's export."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Response, abort, redirect, render_template, request, url_for

from bot import audit
from bot.clock import local_now
from bot.extensions import db
from bot.models import Worker
from bot.services import export, roster
from bot.staff.applications import MIME
from bot.staff.base import actor, bp, me
from bot.staff.forms import ActionForm


def asked_day() -> date:
    """?day=2026-05-20, else today (Beijing); a malformed date is today too."""
    try:
        return date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return local_now().date()


@bp.get("/home-office")
def home_office():
    day = asked_day()
    return render_template("staff/home_office.html", r=roster.roster(db.session, day), day=day,
                           today=local_now().date(), before=day - timedelta(days=1), after=day + timedelta(days=1),
                           action=ActionForm())


@bp.post("/home-office/contact/<int:worker_id>")
def home_office_contact(worker_id: int):
    worker = db.get_or_404(Worker, worker_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    escalation = roster.contact(db.session, worker, me(), asked_day())
    db.session.commit()
    return redirect(url_for("staff.case", escalation_id=escalation.id))


@bp.post("/home-office/export")
def home_office_export():
    if not ActionForm().validate_on_submit():
        abort(400)
    day = asked_day()
    the_roster = roster.roster(db.session, day)
    data = export.to_bytes([roster.sheet(the_roster)], "xlsx")
    audit.record(db.session, actor(), "home_office.export", "report", "home_office_roster", day=day.isoformat(),
                 rows=the_roster.registered)
    db.session.commit()
    return Response(data, mimetype=MIME["xlsx"],
                    headers={"Content-Disposition": f"attachment; filename=home-office-{day.isoformat()}.xlsx"})
