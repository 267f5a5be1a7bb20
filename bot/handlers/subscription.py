"""Follow / unfollow events (关注 / 取消关注) and scans by existing followers."""
from bot import texts
from bot.dispatch import Handlers

handlers = Handlers()


@handlers.event("subscribe")
@handlers.event("subscribe_scan")  # wechatpy turns a qrscene_ subscribe into this event
def welcome(msg, ctx):
    """Greet a new follower and show what the bot can do."""
    ctx.worker.mark_subscribed(scene=getattr(msg, "scene_id", None))
    return texts.WELCOME


@handlers.event("unsubscribe")
def farewell(msg, ctx):
    """Stop all reminders; WeChat shows nothing for this reply."""
    ctx.worker.mark_unsubscribed()
    return None


@handlers.event("scan")
def scanned(msg, ctx):
    """An existing follower scanned a parametric QR code."""
    ctx.worker.scene = str(getattr(msg, "scene_id", "") or "")[:64] or ctx.worker.scene
    return texts.MENU
