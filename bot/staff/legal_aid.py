"""The legal-aid desk: a day's slots with who booked them (name, phone, topic, description), marked
attended / no-show / cancelled, and the slots themselves with their capacity."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for

from bot.clock import local_now
from bot.extensions import db
from bot.models import LegalAidBooking, LegalAidSlot
from bot.services import legal_desk
from bot.services.legal_aid import MODES
from bot.staff.base import bp, me
from bot.staff.forms import ActionForm, CancelBookingForm, CapacityForm, SlotForm
from bot.staff.home_office import asked_day


def _errors(form) -> str:
    return "；".join(e for errs in form.errors.values() for e in errs) or "请刷新页面后再试。"


@bp.get("/legal-aid")
def legal_aid():
    day = asked_day()
    return render_template("staff/legal_aid.html", day=day, today=local_now().date(),
                           slots=legal_desk.day_view(db.session, day), before=day - timedelta(days=1),
                           after=day + timedelta(days=1), busy=legal_desk.days_with_bookings(db.session, day),
                           action=ActionForm(), cancel_form=CancelBookingForm(), modes=MODES)


def _back(booking: LegalAidBooking):
    return redirect(url_for("staff.legal_aid", day=booking.day.isoformat()) + f"#booking-{booking.id}")


def _desk(booking: LegalAidBooking, form, act, done: str):
    if not form.validate_on_submit():
        flash(_errors(form), "error")
        return _back(booking)
    try:
        act()
    except legal_desk.DeskError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(booking)
    db.session.commit()
    flash(done, "info")
    return _back(booking)


@bp.post("/legal-aid/bookings/<int:booking_id>/<outcome>")
def legal_aid_mark(booking_id: int, outcome: str):
    booking = db.get_or_404(LegalAidBooking, booking_id)
    if outcome not in legal_desk.OUTCOMES:
        abort(404)
    return _desk(booking, ActionForm(), lambda: legal_desk.mark(db.session, booking, outcome, me()),
                 "已标记为到场。" if outcome == "attended" else "已标记为未到场。")


@bp.post("/legal-aid/bookings/<int:booking_id>/cancel")
def legal_aid_cancel(booking_id: int):
    booking, form = db.get_or_404(LegalAidBooking, booking_id), CancelBookingForm()
    return _desk(booking, form, lambda: legal_desk.cancel(db.session, booking, me(), form.reason.data),
                 "预约已取消，名额已释放；职工会收到通知。")


@bp.get("/legal-aid/slots")
def legal_aid_slots():
    form = SlotForm(formdata=None, day=local_now().date() + timedelta(days=1))
    rows = legal_desk.upcoming(db.session)
    return render_template("staff/legal_slots.html", rows=rows, form=form, action=ActionForm(), modes=MODES,
                           capacity_forms={s.id: CapacityForm(formdata=None, prefix=f"s{s.id}", capacity=s.capacity)
                                           for s, _ in rows})


def _slots_done(message: str, error: bool = False):
    if error:
        db.session.rollback()
    else:
        db.session.commit()
    flash(message, "error" if error else "info")
    return redirect(url_for("staff.legal_aid_slots"))


@bp.post("/legal-aid/slots")
def legal_aid_slot_add():
    form = SlotForm()
    if not form.validate_on_submit():
        return _slots_done(_errors(form), error=True)
    try:
        legal_desk.add_slot(db.session, form.day.data, form.start.data, form.end.data, form.place.data, form.mode.data,
                            form.capacity.data, me())
    except legal_desk.DeskError as exc:
        return _slots_done(str(exc), error=True)
    return _slots_done("时段已添加，职工预约时就能选到。")


@bp.post("/legal-aid/slots/<int:slot_id>/capacity")
def legal_aid_slot_capacity(slot_id: int):
    slot, form = db.get_or_404(LegalAidSlot, slot_id), CapacityForm(prefix=f"s{slot_id}")
    if not form.validate_on_submit():
        return _slots_done(_errors(form), error=True)
    try:
        legal_desk.set_capacity(db.session, slot, form.capacity.data, me())
    except legal_desk.DeskError as exc:
        return _slots_done(str(exc), error=True)
    return _slots_done("名额已修改。")


@bp.post("/legal-aid/slots/<int:slot_id>/delete")
def legal_aid_slot_delete(slot_id: int):
    slot = db.get_or_404(LegalAidSlot, slot_id)
    if not ActionForm().validate_on_submit():
        return _slots_done("请刷新页面后再试。", error=True)
    try:
        legal_desk.delete_slot(db.session, slot, me())
    except legal_desk.DeskError as exc:
        return _slots_done(str(exc), error=True)
    return _slots_done("时段已删除。")
