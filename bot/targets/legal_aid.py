"""我的预约 / 取消预约: the worker's own legal-aid bookings, listed and cancelled by number."""
from __future__ import annotations

from bot.flows.legal_aid import listing
from bot.services import legal_aid
from bot.targets.core import paused_note
from bot.targets.registry import target

NO_BOOKINGS = "您目前没有待参加的法律援助预约。回复「法律援助」即可预约律师咨询。"
MY_BOOKINGS = "您的法律援助预约：\n{listing}\n需要取消请回复「取消预约」。"
PICK_TO_CANCEL = "要取消哪个预约？回复序号，例如：1\n{listing}\n不取消的话，不用回复。"
CANCELLED = "已取消您 {when} 的法律援助预约，名额已释放。需要时可以回复「法律援助」重新预约。"
ALREADY_GONE = "这个预约已经取消或已过期，不用再取消了。\n\n"


def bookings_text(conv) -> str:
    bookings = legal_aid.upcoming(conv.session, conv.worker)
    return MY_BOOKINGS.format(listing=listing(bookings)) if bookings else NO_BOOKINGS


@target("legal_aid.bookings")
def my_bookings(conv, name, arg) -> str:
    conv.context.clear()
    return bookings_text(conv) + paused_note(conv)


@target("legal_aid.cancel")
def cancel(conv, name, booking_id) -> str:
    """取消预约: one booking is offered by number; `legal_aid.cancel:<id>` cancels it."""
    if booking_id is not None:
        conv.context.clear()
        booking = legal_aid.cancel(conv.session, conv.worker, int(booking_id))
        if booking is None:
            return ALREADY_GONE + bookings_text(conv)
        return CANCELLED.format(when=legal_aid.describe(booking.slot))
    bookings = legal_aid.upcoming(conv.session, conv.worker)
    if not bookings:
        conv.context.clear()
        return NO_BOOKINGS
    conv.context.offer_list("cancel_booking", [f"legal_aid.cancel:{b.id}" for b in bookings],
                            [legal_aid.describe(b.slot) for b in bookings])
    return PICK_TO_CANCEL.format(listing=listing(bookings))
