"""Membership applications: filtered list, detail (admins may reveal the ID number), decisions, export."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for

from bot import audit
from bot.clock import local_now
from bot.extensions import db
from bot.models import MembershipApplication
from bot.services import export, membership, workbench
from bot.staff.base import actor, admin_required, bp, me
from bot.staff.forms import ActionForm, FilterForm, RejectForm, choices

OTHER = "__other__"
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _filters() -> tuple[FilterForm, membership.Filters]:
    form = FilterForm(request.args)
    options = membership.options()
    form.status.choices = choices([("", "全部状态")] + list(membership.STATUS_LABELS.items()))
    form.district.choices = choices([("", "全部地区")] + [(d, d) for d in options["districts"]])
    form.industry.choices = choices([("", "全部行业")] + [(i, i) for i in options["industries"]])
    form.validate()  # a malformed date is shown as an error and ignored, the rest still filters
    return form, membership.Filters(status=form.status.data or "", district=form.district.data or "",
                                    industry=form.industry.data or "", q=form.q.data or "",
                                    since=None if form.since.errors else form.since.data,
                                    until=None if form.until.errors else form.until.data)


@bp.get("/applications")
def applications():
    form, filters = _filters()
    rows = membership.search(db.session, filters)
    return render_template("staff/applications.html", form=form, rows=rows, action=ActionForm(),
                           query=request.args.to_dict())


@bp.post("/applications/export.<fmt>")
def applications_export(fmt: str):
    if fmt not in MIME or not ActionForm().validate_on_submit():
        abort(400)
    _, filters = _filters()
    rows = membership.search(db.session, filters, limit=None)
    data = export.to_bytes(export.membership(db.session, single=fmt == "csv", applications=rows), fmt)
    audit.record(db.session, actor(), "application.export", "membership_application", None,
                 rows=len(rows), format=fmt, filters={k: v for k, v in request.args.items() if v})
    db.session.commit()
    name = f"membership-{local_now():%Y%m%d-%H%M}.{fmt}"
    return Response(data, mimetype=MIME[fmt], headers={"Content-Disposition": f"attachment; filename={name}"})


def _application(application_id: int) -> MembershipApplication:
    return db.get_or_404(MembershipApplication, application_id)


def render_application(application: MembershipApplication, revealed: str | None = None, status: int = 200,
                       reject: RejectForm | None = None):
    """The application page; a refused rejection keeps the reason staff wrote."""
    reject = reject or RejectForm()
    reject.reason.choices = choices([(r, r) for r in workbench.reject_reasons()] + [(OTHER, "其他（在下面填写）")])
    return render_template("staff/application.html", a=application, revealed=revealed, action=ActionForm(),
                           reject_form=reject), status


@bp.get("/applications/<int:application_id>")
def application(application_id: int):
    return render_application(_application(application_id))


@bp.post("/applications/<int:application_id>/reveal")
@admin_required
def application_reveal(application_id: int):
    application = _application(application_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    number = membership.reveal_id(db.session, application, me().login)
    db.session.commit()
    return render_application(application, revealed=number)


def _decide(application: MembershipApplication, approved: bool, reason: str | None):
    try:
        membership.review(db.session, application, approved, reason, me().login)
    except ValueError:
        db.session.rollback()
        flash(f"这份申请已经是「{membership.STATUS_LABELS.get(application.status, application.status)}」，"
              "不能再审核。", "error")
        return render_application(_application(application.id), status=409)
    db.session.commit()
    flash("已通过，职工会收到通知。" if approved else "已标记为未通过，职工会收到通知和原因。", "info")
    return redirect(url_for("staff.application", application_id=application.id))


@bp.post("/applications/<int:application_id>/approve")
def application_approve(application_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    return _decide(_application(application_id), True, None)


@bp.post("/applications/<int:application_id>/reject")
def application_reject(application_id: int):
    application, form = _application(application_id), RejectForm()
    valid = form.validate_on_submit()
    reason = (form.other.data or "").strip() if form.reason.data == OTHER else form.reason.data
    if not valid or form.reason.data not in workbench.reject_reasons() + [OTHER] or not reason:
        flash("请选择不通过的原因，或在「其他」里写明原因（职工会看到）。", "error")
        return render_application(application, status=400, reject=form)
    return _decide(application, False, reason)


@bp.post("/applications/bulk-approve")
def applications_bulk():
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()]
    if not ActionForm().validate_on_submit() or not ids:
        flash("请先勾选要通过的申请。", "error")
        return redirect(url_for("staff.applications", **request.args))
    done, skipped = membership.bulk_approve(db.session, ids, me().login)
    db.session.commit()
    flash(f"已通过 {len(done)} 份申请，职工都会收到通知。" + (f"{skipped} 份不是待审核状态，已跳过。" if skipped else ""),
          "info")
    return redirect(url_for("staff.applications", **request.args))
