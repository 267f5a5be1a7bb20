"""The staff workbench at /staff: one blueprint (bot/staff/base.py), one module per area."""
from bot.staff import accounts, applications, audit, canned, inbox  # noqa: F401 – each registers its routes
from bot.staff.base import bp, init_login


def blueprint():
    """The blueprint with every area's routes attached."""
    return bp


__all__ = ["bp", "blueprint", "init_login"]
