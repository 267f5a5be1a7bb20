"""Text messages: the dialog engine decides (flow step, global command, or the matcher)."""
from bot.dispatch import Handlers
from bot.nlu.normalise import is_traditional, to_traditional

handlers = Handlers()


def reply_in_kind(text: str, reply: str) -> str:
    """A worker who writes Traditional Chinese reads the reply in Traditional Chinese."""
    return to_traditional(reply) if reply and is_traditional(text) else reply


@handlers.message("text")
def converse(msg, ctx):
    return reply_in_kind(msg.content or "", ctx.dialog.handle_text(msg.content or ""))
