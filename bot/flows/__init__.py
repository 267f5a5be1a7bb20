"""The worker dialogs, each declared as data in its own module (states + transitions tables)."""
from bot.flows import home_office, legal_aid, membership

FLOWS = {m.NAME: m for m in (membership, home_office, legal_aid)}
