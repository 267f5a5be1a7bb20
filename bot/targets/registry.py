"""The target registry: a routing target id → the function that carries it out (`@target("…")`).

A target is what a worker's message comes to mean: an FAQ answer, a flow to start, the bookings
list, the application status… Exact ids (`legal_aid.bookings`) and id families (`flow.*`,
`legal.*`) are registered with a decorator, as handlers are; a target may carry an argument after
a colon (`legal_aid.cancel:12`). Adding a target is a decorator, not a branch in an if-chain.
"""
from __future__ import annotations

from collections.abc import Callable

# fn(conversation, target_id, argument_or_None) -> reply text
Target = Callable[[object, str, str | None], str]


class Registry:
    def __init__(self) -> None:
        self.exact: dict[str, Target] = {}
        self.families: dict[str, Target] = {}  # "flow." → fn, longest prefix wins

    def __call__(self, *names: str) -> Callable[[Target], Target]:
        """@target("menu"), @target("flow.*"), several names at once."""

        def register(fn: Target) -> Target:
            for name in names:
                table, key = (self.families, name[:-1]) if name.endswith("*") else (self.exact, name)
                if key in table:
                    raise ValueError(f"two targets for {name!r}")
                table[key] = fn
            return fn

        return register

    def find(self, target: str) -> Target | None:
        name = target.partition(":")[0]
        if name in self.exact:
            return self.exact[name]
        prefixes = [p for p in self.families if name.startswith(p)]
        return self.families[max(prefixes, key=len)] if prefixes else None

    def knows(self, target: str) -> bool:
        return self.find(target) is not None

    def run(self, conversation, target: str) -> str:
        fn = self.find(target)
        if fn is None:
            raise KeyError(f"no target {target!r}")
        name, _, argument = target.partition(":")
        return fn(conversation, name, argument or None)


target = Registry()
