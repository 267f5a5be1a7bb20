"""The hand-off inbox: tabs, one conversation, and the actions on it (views call bot.services.casework)."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from bot.extensions import db
from bot.models import Escalation, StaffUser
from bot.services import alerts, canned, casework, inbox
from bot.services import staff as accounts
from bot.staff.base import bp, me
from bot.staff.forms import ActionForm, AssignForm, CloseForm, NoteForm, ReplyForm, choices


@bp.get("/")
def home():
    return redirect(url_for("staff.inbox"))


def _tab() -> str:
    tab = request.args.get("tab", "unassigned")
    return tab if tab in inbox.TABS else "unassigned"


@bp.get("/inbox", endpoint="inbox")
def inbox_page():
    tab = _tab()
    return render_template("staff/inbox.html", tab=tab, items=inbox.items(db.session, tab, me()),
                           counts=inbox.counts(db.session, me()), alerts=alerts.unseen(db.session))


@bp.get("/inbox/rows")
def inbox_rows():
    """Polled every few seconds: new alerts, the tabs with their counts and the tab's rows."""
    tab = _tab()
    return render_template("staff/_inbox_rows.html", tab=tab, items=inbox.items(db.session, tab, me()),
                           counts=inbox.counts(db.session, me()), alerts=alerts.unseen(db.session))


def _escalation(escalation_id: int) -> Escalation:
    return db.get_or_404(Escalation, escalation_id)


def render_case(escalation: Escalation, status: int = 200, **forms):
    """The conversation page; a refused action re-renders it with what staff typed kept in its box."""
    session, item = db.session, inbox.one(db.session, escalation)
    form = forms.get("reply_form") or ReplyForm()
    form.token.data = casework.reply_token(session, escalation)
    assign = AssignForm(to=escalation.assigned_to_id or 0)
    assign.to.choices = choices([(0, "（未分配）")] + [(u.id, u.name) for u in accounts.colleagues(session) if u.active])
    name = inbox.names(session, [escalation.worker_id]).get(escalation.worker_id)
    hours = current_app.config.get("OFFICE_HOURS", "")
    replies = [(r.title, canned.fill(r.body, name=name, staff=me(), office_hours=hours))
               for r in canned.all_replies(session)]
    return render_template(
        "staff/case.html", item=item, e=escalation, entries=inbox.timeline(session, escalation),
        window=inbox.window_line(session, escalation.worker, current_app.config),
        others=inbox.others(session, escalation, me()), reply_form=form, assign_form=assign,
        note_form=forms.get("note_form") or NoteForm(), close_form=forms.get("close_form") or CloseForm(),
        action=ActionForm(), canned=replies), status


@bp.get("/inbox/<int:escalation_id>")
def case(escalation_id: int):
    return render_case(_escalation(escalation_id))


@bp.get("/inbox/<int:escalation_id>/timeline")
def case_timeline(escalation_id: int):
    escalation = _escalation(escalation_id)
    return render_template("staff/_timeline.html", e=escalation, entries=inbox.timeline(db.session, escalation))


@bp.post("/inbox/<int:escalation_id>/presence")
def case_presence(escalation_id: int):
    """The open page reports itself every few seconds (htmx) and gets back who else is here."""
    escalation = _escalation(escalation_id)
    inbox.touch(db.session, escalation, me(), typing=request.form.get("typing") == "1")
    alerts.mark_seen(db.session, escalation, me())  # its alert is dealt with once someone has it open
    db.session.commit()
    return render_template("staff/_presence.html", others=inbox.others(db.session, escalation, me()),
                           window=inbox.window_line(db.session, escalation.worker, current_app.config))


def _done(escalation: Escalation, message: str):
    db.session.commit()
    flash(message, "info")
    return redirect(url_for("staff.case", escalation_id=escalation.id))


def _refused(escalation: Escalation, message: str, status: int = 400, **forms):
    db.session.rollback()
    flash(message, "error")
    return render_case(_escalation(escalation.id), status, **forms)


@bp.post("/inbox/<int:escalation_id>/reply")
def case_reply(escalation_id: int):
    escalation, form = _escalation(escalation_id), ReplyForm()
    if not form.validate_on_submit():
        return _refused(escalation, "；".join(e for errs in form.errors.values() for e in errs), reply_form=form)
    try:
        result = casework.reply(db.session, escalation, me(), form.text.data, form.token.data)
    except casework.CaseError as exc:
        return _refused(escalation, str(exc), 409, reply_form=form)
    if result.outcome == "conflict":
        return _refused(escalation, f"{result.row.payload.get('staff', '同事')} 刚刚已经回复了这位职工（见上方）。"
                                    "您的回复没有发送，内容保留在输入框里，看过后再决定是否发送。", 409, reply_form=form)
    return _done(escalation, "回复已排队发送。" if result.outcome == "queued" else "这条回复已经发送过了。")


@bp.post("/inbox/<int:escalation_id>/assign")
def case_assign(escalation_id: int):
    escalation, form = _escalation(escalation_id), AssignForm()
    form.to.choices = choices([(0, "")] + [(u.id, u.name) for u in accounts.colleagues(db.session)])
    if not form.validate_on_submit():
        return _refused(escalation, "请选择要分配给谁。")
    to = db.session.get(StaffUser, form.to.data) if form.to.data else None
    try:
        casework.assign(db.session, escalation, to, me())
    except casework.CaseError as exc:
        return _refused(escalation, str(exc))
    return _done(escalation, f"已分配给 {to.name}。" if to else "已放回未分配。")


@bp.post("/inbox/<int:escalation_id>/note")
def case_note(escalation_id: int):
    escalation, form = _escalation(escalation_id), NoteForm()
    if not form.validate_on_submit():
        return _refused(escalation, "；".join(e for errs in form.errors.values() for e in errs), note_form=form)
    casework.note(db.session, escalation, me(), form.body.data)
    return _done(escalation, "备注已保存（职工看不到）。")


@bp.post("/inbox/<int:escalation_id>/close")
def case_close(escalation_id: int):
    escalation, form = _escalation(escalation_id), CloseForm()
    try:
        if not form.validate_on_submit():
            raise casework.CaseError("；".join(e for errs in form.errors.values() for e in errs))
        casework.close(db.session, escalation, me(), form.message.data)
    except casework.CaseError as exc:
        return _refused(escalation, str(exc), close_form=form)
    return _done(escalation, "已结案：职工会收到通知和评分邀请，之后的消息由机器人回答。")


@bp.post("/inbox/<int:escalation_id>/reopen")
def case_reopen(escalation_id: int):
    escalation = _escalation(escalation_id)
    try:
        if not ActionForm().validate_on_submit():
            raise casework.CaseError("请刷新页面后再试。")
        casework.reopen(db.session, escalation, me())
    except casework.CaseError as exc:
        return _refused(escalation, str(exc))
    return _done(escalation, "已重新打开：职工接下来的消息会转给工作人员。")
