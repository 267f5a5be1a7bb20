"""Custom-menu events: CLICK keys start a flow or show an FAQ; VIEW and scan/photo/location pickers.

https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_event_pushes.html
"""
from bot import dialog, texts
from bot.dispatch import Handlers
from bot.services import wechat_kf
from bot.targets import core, run

handlers = Handlers()

# Menu key → routing target (the same targets free text is routed to).
CLICK_TARGETS = {
    "MENU": "menu",
    "MEMBERSHIP": "flow.membership",
    "HOME_OFFICE": "flow.home_office",
    "CHECKIN": "flow.home_office",
    "LEGAL_AID": "flow.legal_aid",
    "MY_BOOKINGS": "legal_aid.bookings",
    "HANDOFF": "flow.handoff",
    "MY_APPLICATION": "union.application_status",
    "WAGE_ARREARS": "legal.wage_arrears",
    "HOTLINES": "service.hotlines",
    "LEGAL": "menu.legal",
}


def _go(target):
    def click(msg, ctx):
        if ctx.conversation.owner == wechat_kf.CHANNEL:  # WeChat's tool has them; a click is not forwarded
            return None
        if ctx.conversation.owner == "staff" and target != "flow.handoff":  # staff answer until 结束人工
            return texts.HANDOFF_MENU_WAIT
        # the hand-off knows it came from the menu: an event is never passed to WeChat's tool
        return dialog.finish(ctx.conversation, run(ctx.conversation, "flow.handoff:menu" if target == "flow.handoff"
                                                   else target))

    click.__name__ = f"click_{target.replace('.', '_')}"
    return click


for _key, _target in CLICK_TARGETS.items():
    handlers.click(_key)(_go(_target))


@handlers.event("click")
def unknown_click(msg, ctx):
    """A key the menu has but this version does not know: show the menu instead of failing."""
    if ctx.conversation.owner == wechat_kf.CHANNEL:
        return None
    return dialog.finish(ctx.conversation, core.menu_reply(ctx.conversation))


@handlers.event("view")
def opened_link(msg, ctx):
    return None  # WeChat opens the page; a reply would not be shown


@handlers.event("scancode_push")
@handlers.event("pic_sysphoto")
@handlers.event("pic_photo_or_album")
@handlers.event("pic_weixin")
def picker_used(msg, ctx):
    return None  # the picture or code itself arrives as its own message


@handlers.event("scancode_waitmsg")
def scanned_code(msg, ctx):
    return texts.READ_TEXT_ONLY


@handlers.event("location_select")
def picked_location(msg, ctx):
    return None  # followed by a location message, handled in handlers/location.py
