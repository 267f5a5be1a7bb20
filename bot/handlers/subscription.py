"""Follow / unfollow events (关注 / 取消关注) and scans by existing followers."""
from bot import dialog, texts
from bot.dispatch import Handlers
from bot.targets import core

handlers = Handlers()


@handlers.event("subscribe")
@handlers.event("subscribe_scan")  # wechatpy turns a qrscene_ subscribe into this event
def welcome(msg, ctx):
    """Greet a new follower and show what the bot can do (the menu's numbers answer next)."""
    ctx.worker.mark_subscribed(scene=getattr(msg, "scene_id", None))
    return dialog.finish(ctx.conversation, core.menu_reply(ctx.conversation, texts.WELCOME.removesuffix(texts.MENU)))


@handlers.event("unsubscribe")
def farewell(msg, ctx):
    """Stop all reminders; WeChat shows nothing for this reply (and no dialog row is touched)."""
    ctx.worker.mark_unsubscribed()
    return None


@handlers.event("scan")
def scanned(msg, ctx):
    """An existing follower scanned a parametric QR code."""
    ctx.worker.scene = str(getattr(msg, "scene_id", "") or "")[:64] or ctx.worker.scene
    return dialog.finish(ctx.conversation, core.menu_reply(ctx.conversation))
