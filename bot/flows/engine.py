"""How a flow literal runs: Flow and Step, the state machine on `transitions`, start / answer / back.

A flow is one `Flow(...)` literal (bot/flows/<name>.py): its states (Step rows: what to ask, which
slot the answer fills, how to parse it) and its transitions table. One machine is built per flow
and thread; each message adds a FlowRun model at the stored state and removes it after the
trigger (transitions' add_model / remove_model), so nothing about a worker stays in memory.
Global commands, switching and what the worker sees around a step are the dialog's (bot/dialog.py).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from transitions import Machine, State

from bot.flows.steps import Invalid

MAX_FAILURES = 3  # wrong answers in a row before 转人工 is offered


class Step(State):
    """A dialog step: what to ask, which slot the answer fills, how to parse it."""

    def __init__(self, *args, ask=None, slot=None, parse=None, accepts_location=False, title=None,
                 free_text=False, **kwargs):
        self.ask, self.slot, self.parse, self.accepts_location = ask, slot, parse, accepts_location
        self.title = title  # short Chinese name of the step, shown in the flow diagrams
        # The answer is free text (a name, an address, a description): a command or a question
        # typed here would be stored as the answer, so the dialog asks before taking it.
        self.free_text = free_text
        super().__init__(*args, **kwargs)

    def prompt(self, run) -> str:
        if callable(self.ask):
            return self.ask(run)
        return (self.ask or "").format_map(_Blank(run.slots))


class _Blank(dict):
    def __missing__(self, key):
        return ""


class FlowMachine(Machine):
    state_cls = Step


@dataclass(frozen=True)
class Flow:
    """One dialog, declared as data."""

    name: str  # stored in Dialog.flow: renaming one needs a data migration
    title: str  # what the worker reads: 「入会申请」
    states: list[dict]
    transitions: list
    # The first state for this worker (default: the first in `states`), e.g. the status of an
    # application already made instead of a new one.
    entry: Callable[[FlowRun], str] | None = None
    # A reason this worker cannot start the flow now, as the reply they read; None to start.
    refuse: Callable[[FlowRun], str | None] | None = None
    diagram_notes: tuple[str, ...] = field(default=())


class FlowRun:
    """The model a flow's machine drives for one message (never the ORM row itself)."""

    def __init__(self, conversation, state: str | None, slots: dict):
        self.conversation = conversation
        self.state, self.slots = state, dict(slots)
        self.notes: list[str] = []  # extra lines a callback wants the worker to see

    @property
    def session(self):
        return self.conversation.session

    @property
    def worker(self):
        return self.conversation.worker

    @property
    def config(self):
        return self.conversation.config


_machines = threading.local()


def machine(flow: Flow) -> FlowMachine:
    """This thread's machine for the flow (building one per message costs more than the step)."""
    cache = getattr(_machines, "by_name", None)
    if cache is None:
        cache = _machines.by_name = {}
    built = cache.get(flow.name)
    if built is None or built[0] is not flow:
        built = cache[flow.name] = (flow, FlowMachine(model=None, states=flow.states, transitions=flow.transitions,
                                                      auto_transitions=False, send_event=True))
    return built[1]


class _Running:
    """`with _Running(flow, run):` — the run is a model of the flow's machine inside the block."""

    def __init__(self, flow: Flow, run: FlowRun):
        self.machine, self.run = machine(flow), run

    def __enter__(self) -> FlowMachine:
        self.machine.add_model(self.run, initial=self.run.state)
        return self.machine

    def __exit__(self, *exc) -> None:
        self.machine.remove_model(self.run)


def step_of(flow: Flow, state: str) -> Step:
    return machine(flow).get_state(state)


def prompt(conversation, flow: Flow) -> str:
    run = FlowRun(conversation, conversation.state, conversation.slots)
    return step_of(flow, run.state).prompt(run)


def start(conversation, flow: Flow, **slots) -> str:
    """Enter the flow at its first step for this worker, or say why it cannot start."""
    run = FlowRun(conversation, None, slots)
    refusal = flow.refuse(run) if flow.refuse else None
    if refusal:
        return refusal
    first = flow.entry(run) if flow.entry else flow.states[0]["name"]
    conversation.set_flow(flow.name, first, run.slots)
    run.state = first
    step = step_of(flow, first)
    if step.final:  # an entry straight to an end state (nothing to ask)
        conversation.end_flow()
    return step.prompt(run)


@dataclass
class Answered:
    reply: str
    finished: bool = False  # the flow reached a final state
    invalid: bool = False  # the answer did not fit: the step was asked again


def answer(conversation, flow: Flow, text: str, value=None) -> Answered:
    """Parse the answer to the current step, store it and move on (or re-ask with a hint)."""
    run = FlowRun(conversation, conversation.state, conversation.slots)
    with _Running(flow, run) as m:
        step = m.get_state(run.state)
        try:
            value = step.parse(text) if value is None else value
        except Invalid as exc:
            failures = conversation.row.failures + 1
            conversation.row.failures = failures
            return Answered(exc.message(), invalid=True)
        run.slots = {**run.slots, step.slot: value}
        run.trigger("answer")
        new = m.get_state(run.state)
        reply = "\n".join([*run.notes, new.prompt(run)])
    if new.final:
        conversation.end_flow()
        return Answered(reply, finished=True)
    conversation.set_flow(flow.name, run.state, run.slots)
    return Answered(reply)


def back(conversation, flow: Flow) -> str | None:
    """Go back one step; None when there is no step to go back to from here."""
    run = FlowRun(conversation, conversation.state, conversation.slots)
    with _Running(flow, run) as m:
        # No back transition, or only conditional ones that do not apply now (trigger → False).
        if "back" not in m.get_triggers(run.state) or not run.trigger("back"):
            return None
    conversation.set_flow(flow.name, run.state, run.slots)
    return prompt(conversation, flow)
