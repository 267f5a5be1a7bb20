"""Location messages and the periodic LOCATION event (上报地理位置)."""
from bot import texts
from bot.dispatch import Handlers

handlers = Handlers()


@handlers.message("location")
def place(msg, ctx):
    """A shared location answers a whereabouts step when a flow asks for one."""
    label = (msg.label or "").strip() or f"{msg.location_x},{msg.location_y}"
    if ctx.dialog.accepts_location():
        return ctx.dialog.answer(label, value={"label": label, "lat": msg.location_x, "lng": msg.location_y})
    return texts.LOCATION_THANKS.format(label=label)


@handlers.event("location")
def periodic_location(msg, ctx):
    """WeChat reports the position on entering the chat when enabled; nothing to say."""
    return None
