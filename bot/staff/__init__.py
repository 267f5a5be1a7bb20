"""The staff workbench at /staff: one blueprint (bot/staff/base.py), one module per area."""
from bot.staff import (accounts, applications, audit, canned, home_office, inbox, insights,  # noqa: F401
                       legal_aid, privacy)  # each registers its routes
from bot.staff.base import bp, init_login


def blueprint():
    """The blueprint with every area's routes attached."""
    return bp


__all__ = ["bp", "blueprint", "init_login"]
