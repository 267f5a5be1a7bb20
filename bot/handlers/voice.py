"""Voice messages: use WeChat's speech recognition when it is on, otherwise ask for text.

https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
"""
from bot import texts
from bot.dispatch import Handlers
from bot.handlers.text import converse

handlers = Handlers()


@handlers.message("voice")
def transcribe(msg, ctx):
    recognised = (getattr(msg, "recognition", None) or "").strip().rstrip("。！？!?")
    if not recognised:
        return texts.VOICE_UNRECOGNISED
    return converse(ctx.conversation, recognised)
