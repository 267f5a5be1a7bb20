"""Images, video, short video, links and anything else we cannot read: ask for text, politely."""
from bot import dialog, texts
from bot.dispatch import Handlers
from bot.services import wechat_kf

handlers = Handlers()


@handlers.message("image")
@handlers.message("video")
@handlers.message("shortvideo")
@handlers.message("link")
@handlers.message("miniprogrampage")
def ask_to_type(msg, ctx):
    if ctx.conversation.owner == wechat_kf.CHANNEL:  # a picture for WeChat's customer-service tool
        return dialog.to_wechat_kf(ctx.conversation)
    return texts.READ_TEXT_ONLY


@handlers.fallback
def unknown(msg, ctx):
    """Unknown message types and events get a safe reply, never an error."""
    # wechatpy parses unknown events to UnknownMessage too; its raw fields say it was an event.
    raw_type = str(getattr(msg, "_data", {}).get("MsgType", "")).lower()
    return None if msg.type == "event" or raw_type == "event" else texts.READ_TEXT_ONLY
