"""Placeholder: being written (issue 5)."""
NAME = "home_office"
TITLE = "home_office"
STATES = [{"name": "todo", "final": True, "ask": "即将开放。"}]
TRANSITIONS = []
