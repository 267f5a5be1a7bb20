"""Routing targets: the registry (bot/targets/registry.py) and the modules that fill it."""
from bot.targets import core, legal_aid, privacy, reminders  # noqa: F401 – importing a module registers its targets
from bot.targets.registry import target

run, knows = target.run, target.knows
