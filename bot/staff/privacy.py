"""Privacy requests: 查询我的信息 / 删除我的信息 / 撤回同意, with everything stored about the worker,
an export for them, the answer, and deletion (audited; the worker is told through the outbox)."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for

from bot import audit
from bot.clock import local_now
from bot.extensions import db
from bot.models import PrivacyRequest
from bot.services import export, privacy
from bot.staff.applications import MIME
from bot.staff.base import actor, bp
from bot.staff.forms import ActionForm


@bp.get("/privacy")
def privacy_list():
    status = request.args.get("status", "")
    return render_template("staff/privacy.html", rows=privacy.requests(db.session, status if status in
                                                                         privacy.STATUS_LABELS else None),
                           status=status, kinds=privacy.KINDS, labels=privacy.STATUS_LABELS, outcomes=privacy.OUTCOMES)


def _request(request_id: int) -> PrivacyRequest:
    return db.get_or_404(PrivacyRequest, request_id)


@bp.get("/privacy/<int:request_id>")
def privacy_request(request_id: int):
    req = _request(request_id)
    return render_template("staff/privacy_request.html", req=req, sections=privacy.inventory(db.session, req.worker),
                           kinds=privacy.KINDS, labels=privacy.STATUS_LABELS, outcomes=privacy.OUTCOMES,
                           action=ActionForm(), summary=privacy.summary(privacy.inventory(db.session, req.worker)))


@bp.post("/privacy/<int:request_id>/export")
def privacy_export(request_id: int):
    req = _request(request_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    sheets = privacy.export_sheets(db.session, req.worker)
    data = export.to_bytes(sheets, "xlsx")
    audit.record(db.session, actor(), "privacy.export", "privacy_request", req.id, sheets=len(sheets),
                 rows=sum(len(s.rows) for s in sheets))
    db.session.commit()
    name = f"personal-data-{req.id}-{local_now():%Y%m%d}.xlsx"
    return Response(data, mimetype=MIME["xlsx"], headers={"Content-Disposition": f"attachment; filename={name}"})


def _done(req: PrivacyRequest, message: str, error: bool = False):
    db.session.rollback() if error else db.session.commit()
    flash(message, "error" if error else "info")
    return redirect(url_for("staff.privacy_request", request_id=req.id))


@bp.post("/privacy/<int:request_id>/answer")
def privacy_answer(request_id: int):
    req = _request(request_id)
    if not ActionForm().validate_on_submit() or req.status != "open":
        return _done(req, "这个申请已经处理过了。", error=True)
    privacy.answer(db.session, req, actor())
    return _done(req, "已答复：职工会收到本公众号保存的信息概要。")


@bp.post("/privacy/<int:request_id>/delete")
def privacy_delete(request_id: int):
    req = _request(request_id)
    if not ActionForm().validate_on_submit():
        return _done(req, "请刷新页面后再试。", error=True)
    counts = privacy.erase(db.session, req, actor())
    return _done(req, f"已删除该职工的 {sum(counts.values())} 条信息，职工会收到删除完成的通知。操作已记录。")
