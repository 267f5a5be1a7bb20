"""The worker dialogs, each one Flow literal in its own module (states + transitions tables)."""
from bot.flows import checkin, home_office, legal_aid, membership

FLOWS = {f.name: f for f in (membership.FLOW, home_office.FLOW, checkin.FLOW, legal_aid.FLOW)}
