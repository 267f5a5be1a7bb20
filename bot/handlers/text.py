"""Text messages: the dialog engine decides (flow step, global command, or the matcher)."""
from bot.answers import prepared_for
from bot.dispatch import Handlers
from bot.nlu.normalise import is_traditional, to_traditional

handlers = Handlers()


def reply_in_kind(text: str, reply: str, traditional: bool | None = None) -> str:
    """A worker who writes Traditional Chinese reads the reply in Traditional Chinese."""
    if not reply:
        return reply
    if traditional is None:  # not worked out ahead (bot.answers.prepare)
        traditional = is_traditional(text)
    return to_traditional(reply) if traditional else reply


@handlers.message("text")
def converse(msg, ctx):
    text = msg.content or ""
    pre = prepared_for(ctx.dialog, text)  # worked out before the write lock (bot.answers.prepare)
    return reply_in_kind(text, ctx.dialog.handle_text(text), pre.traditional if pre is not None else None)
