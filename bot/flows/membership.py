"""Placeholder: being written (issue 5)."""
NAME = "membership"
TITLE = "membership"
STATES = [{"name": "todo", "final": True, "ask": "即将开放。"}]
TRANSITIONS = []
