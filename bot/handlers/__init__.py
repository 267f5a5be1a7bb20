"""The one list of handler registries (bot/dispatch.py merges them)."""
from bot.handlers import delivery, kf, location, media, menu, subscription, text, voice

HANDLERS = (text.handlers, voice.handlers, location.handlers, media.handlers,
            subscription.handlers, menu.handlers, delivery.handlers, kf.handlers)
