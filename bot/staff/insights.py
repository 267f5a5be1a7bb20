"""Knowledge-base insights: the questions the bot could not answer (grouped, most frequent first) to
add as an example of an entry or mark out of scope, not-helpful rates per entry, the overlay, and
charts of messages, topics, the share answered, hand-offs and ratings (SVG drawn by the app)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from bot import faq
from bot.extensions import db
from bot.models import KbExample
from bot.services import insights, knowledge
from bot.staff.base import actor, bp
from bot.staff.forms import ActionForm, ExampleForm, choices


def _period() -> int:
    days = request.args.get("days", type=int)
    return days if days in insights.PERIODS else 30


def entry_choices() -> list:
    return choices([(e.id, f"{e.title}（{e.id}）") for e in sorted(faq.all_entries(), key=lambda e: e.id)
                    if not e.id.startswith("smalltalk.")])


@bp.get("/insights")
def insights_page():
    days, session = _period(), db.session
    questions = knowledge.review(session, days)
    forms = []
    for q in questions:
        form = ExampleForm(formdata=None, text=q.text, faq_id=q.guess)
        form.faq_id.choices = entry_choices()
        forms.append((q, form))
    return render_template(
        "staff/insights.html", days=days, periods=insights.PERIODS, questions=forms, votes=knowledge.votes(session, days),
        overlay=knowledge.overlay_rows(session), title=knowledge.title, action=ActionForm(),
        messages=insights.messages(session, days), answered=insights.answered(session, days),
        handoffs=insights.handoffs(session, days), ratings=insights.ratings(session, days),
        topics=[(knowledge.title(t), n) for t, n in insights.topics(session, days)])


def _done(message: str, error: bool = False):
    if error:
        db.session.rollback()
    else:
        db.session.commit()
    flash(message, "error" if error else "info")
    return redirect(url_for("staff.insights_page", days=_period()))


def _learn(add, done: str):
    form = ExampleForm()
    form.faq_id.choices = entry_choices()
    if not form.validate_on_submit():
        return _done("；".join(e for errs in form.errors.values() for e in errs) or "请刷新页面后再试。", error=True)
    try:
        row = add(form)
    except knowledge.KnowledgeError as exc:
        return _done(str(exc), error=True)
    return _done(done.format(title=knowledge.title(row.faq_id)))


@bp.post("/insights/example")
def insights_example():
    return _learn(lambda form: knowledge.add_example(db.session, form.text.data, form.faq_id.data, actor()),
                  "已加为「{title}」的例句。机器人几秒钟后就会用这个条目回答同样的问题（所有进程，无需重启）。")


@bp.post("/insights/out-of-scope")
def insights_out_of_scope():
    return _learn(lambda form: knowledge.mark_out_of_scope(db.session, form.text.data, actor()),
                  "已标为超出服务范围。机器人几秒钟后会对这类问题如实说明回答不了，并提供转人工。")


@bp.post("/insights/overlay/<int:example_id>/delete")
def insights_overlay_delete(example_id: int):
    row = db.get_or_404(KbExample, example_id)
    if not ActionForm().validate_on_submit():
        return _done("请刷新页面后再试。", error=True)
    try:
        knowledge.remove(db.session, row, actor())
    except knowledge.KnowledgeError as exc:
        return _done(str(exc), error=True)
    return _done("已移除，这个问题会重新出现在待处理的问题里。")
