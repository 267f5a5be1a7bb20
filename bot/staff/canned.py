"""Canned replies: every staff member may add, change and delete them (changes are audited)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from bot.extensions import db
from bot.models import CannedReply
from bot.services import canned
from bot.staff.base import bp, me
from bot.staff.forms import ActionForm, CannedForm


@bp.get("/canned")
def canned_list():
    replies = canned.all_replies(db.session)
    return render_template("staff/canned.html", replies=replies, form=CannedForm(), action=ActionForm(),
                           forms={r.id: CannedForm(obj=r, prefix=f"c{r.id}") for r in replies},
                           placeholders=canned.PLACEHOLDERS)


def _save(form: CannedForm, reply: CannedReply | None):
    if not form.validate_on_submit():
        flash("；".join(e for errs in form.errors.values() for e in errs), "error")
        return redirect(url_for("staff.canned_list"))
    try:
        canned.save(db.session, me(), form.title.data, form.body.data, reply)
    except canned.CannedError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash("常用回复已保存。", "info")
    return redirect(url_for("staff.canned_list"))


@bp.post("/canned")
def canned_create():
    return _save(CannedForm(), None)


@bp.post("/canned/<int:reply_id>")
def canned_update(reply_id: int):
    reply = db.get_or_404(CannedReply, reply_id)
    return _save(CannedForm(prefix=f"c{reply.id}"), reply)


@bp.post("/canned/<int:reply_id>/delete")
def canned_delete(reply_id: int):
    reply = db.get_or_404(CannedReply, reply_id)
    if ActionForm().validate_on_submit():
        canned.delete(db.session, me(), reply)
        db.session.commit()
        flash("已删除。", "info")
    return redirect(url_for("staff.canned_list"))
