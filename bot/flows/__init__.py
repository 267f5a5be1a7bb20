"""The worker dialogs, each declared as data in its own module (states + transitions tables)."""
from bot.flows import legal_aid

FLOWS = {m.NAME: m for m in (legal_aid,)}
