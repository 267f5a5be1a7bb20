"""Location messages and the periodic LOCATION event (上报地理位置)."""
from bot import dialog, texts
from bot.dispatch import Handlers
from bot.services import wechat_kf
from bot.services.home_office import real_place

handlers = Handlers()


@handlers.message("location")
def place(msg, ctx):
    """A shared location answers a whereabouts step when a flow asks for one."""
    place = real_place({"lat": msg.location_x, "lng": msg.location_y})  # NaN / Infinity become None
    coordinates = f"{place['lat']},{place['lng']}" if None not in (place["lat"], place["lng"]) else "未知位置"
    label = (msg.label or "").strip()[:256] or coordinates
    conv = ctx.conversation
    if conv.owner == wechat_kf.CHANNEL:
        return dialog.to_wechat_kf(conv)
    if conv.owner != "staff":
        reply = dialog.location(conv, label, {"label": label, "lat": msg.location_x, "lng": msg.location_y})
        if reply is not None:
            return dialog.finish(conv, reply)
    return dialog.finish(conv, texts.LOCATION_THANKS.format(label=label))


@handlers.event("location")
def periodic_location(msg, ctx):
    """WeChat reports the position on entering the chat when enabled; nothing to say."""
    return None
