"""Handler registries: (kind, key) → one handler, using wechatpy's wire names (aiogram-style routers)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[Any, "Ctx"], Any]


@dataclass
class Ctx:
    """What a handler gets besides the message: the settings and the worker's conversation
    (bot.conversation.Conversation), and through it the DB session and the worker's row."""

    config: dict
    conversation: Any

    @property
    def session(self):
        """The ORM session (made on first use: most messages never need one)."""
        return self.conversation.session

    @property
    def worker(self):
        """The ORM Worker (made on first use: most messages need only conversation.owner)."""
        return self.conversation.worker


class Handlers:
    """One module's registry. Keys: "text", "voice", "event:subscribe", "click:LEGAL_AID", "fallback"."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}

    def register(self, key: str) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            if key in self.routes:
                raise ValueError(f"two handlers for {key!r}")
            self.routes[key] = fn
            return fn

        return decorate

    def message(self, kind: str):
        return self.register(kind)

    def event(self, name: str):
        return self.register(f"event:{name.lower()}")

    def click(self, key: str):
        return self.register(f"click:{key}")

    def fallback(self, fn: Handler) -> Handler:
        return self.register("fallback")(fn)


class Dispatcher:
    """All registries merged; a key registered twice anywhere is an error at start-up."""

    def __init__(self, registries: Iterable[Handlers]) -> None:
        self.routes: dict[str, Handler] = {}
        for registry in registries:
            for key, fn in registry.routes.items():
                if key in self.routes:
                    raise ValueError(f"two handlers for {key!r}")
                self.routes[key] = fn

    def handler_for(self, msg) -> Handler:
        key = route_key(msg)
        if key in self.routes:
            return self.routes[key]
        if key.startswith("click:"):
            return self.routes["event:click"]
        return self.routes["fallback"]

    def __call__(self, msg, ctx: Ctx):
        return self.handler_for(msg)(msg, ctx)


def route_key(msg) -> str:
    """wechatpy message → registry key."""
    if msg.type == "event":
        event = (getattr(msg, "event", "") or "").lower()
        if event == "click":
            return f"click:{getattr(msg, 'key', '')}"
        return f"event:{event}"
    return msg.type or "unknown"
