"""Dialog engine: load and lock the worker's dialog row, global commands, steps, re-asking, expiry.

Flows are data (bot/flows/*); this module runs them on `transitions`. State lives only in the
Dialog row (flow, state, slots, context), so any worker process can continue any conversation.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, select

from bot import texts, vocabulary
from bot.clock import aware, now
from bot.flows import FLOWS
from bot.flows.steps import FlowMachine, Invalid
from bot.models import Dialog
from bot.services import handoff

MAX_FAILURES = 3
# Built once (SQLAlchemy memoizes its cache key); loading the row is on every message's path.
DIALOG_FOR_UPDATE = select(Dialog).where(Dialog.worker_id == bindparam("worker_id")).with_for_update()


def command_of(text: str) -> str | None:
    return vocabulary.command(text)


class FlowRun:
    """The model a flow's state machine drives for one message (never the ORM row itself)."""

    def __init__(self, engine: DialogEngine, state: str, slots: dict):
        self.state, self.slots = state, dict(slots)
        self.worker, self.session, self.config = engine.worker, engine.session, engine.config
        self.notes: list[str] = []  # extra lines a callback wants the worker to see


class DialogEngine:
    def __init__(self, session, worker, config: dict, prepared=None):
        self.session, self.worker, self.config = session, worker, config
        # answers.Prepared for the message's text, worked out before the write lock (the route,
        # script, shortcut); bot.answers uses it for that same text instead of redoing it here.
        self.prepared = prepared
        self.row = self._load()
        self.notice = self._expire()

    # -- storage -------------------------------------------------------------------------
    def _load(self) -> Dialog:
        row = self.session.scalars(DIALOG_FOR_UPDATE, {"worker_id": self.worker.id}).first()
        if row is None:
            row = Dialog(worker_id=self.worker.id, slots={}, context={}, failures=0)
            self.session.add(row)
        return row

    def _expire(self) -> str:
        timeout = timedelta(minutes=self.config.get("DIALOG_TIMEOUT_MINUTES", 30))
        if self.row.updated_at is None or now() - aware(self.row.updated_at) <= timeout:
            return ""
        title = self.flow.TITLE if self.row.flow in FLOWS else ""
        self.finish()
        self.row.context = {}
        return texts.EXPIRED.format(title=title) + "\n\n" if title else ""

    def touch(self) -> None:
        self.row.updated_at = now()

    def set_context(self, **values) -> None:
        self.row.context = {k: v for k, v in {**self.row.context, **values}.items() if v is not None}

    def finish(self) -> None:
        self.row.flow = self.row.state = None
        self.row.slots, self.row.failures = {}, 0
        self.set_context(paused=None)

    @property
    def flow(self):
        return FLOWS.get(self.row.flow)

    @property
    def in_flow(self) -> bool:
        return self.flow is not None and not self.row.context.get("paused")

    def machine(self, run: FlowRun) -> FlowMachine:
        flow = self.flow
        return FlowMachine(model=run, states=flow.STATES, transitions=flow.TRANSITIONS, initial=run.state,
                           auto_transitions=False, send_event=True)

    # -- entry points ---------------------------------------------------------------------
    def handle_text(self, text: str) -> str:
        from bot import answers

        self.touch()
        reply = self._handle(text, answers)
        return self.notice + reply if reply else reply

    def _handle(self, text: str, answers) -> str:
        cmd = command_of(text)
        if self.worker.owner == "staff":
            if cmd == "end_handoff":
                handoff.close(self.session, self.worker, by="worker")
                return texts.HANDOFF_ENDED
            handoff.add_message(self.session, self.worker, text)
            return texts.HANDOFF_QUEUED
        if cmd:
            return getattr(self, f"cmd_{cmd}")()
        if self.in_flow:
            return self.answer(text)
        return answers.respond(self, text)

    def start(self, name: str, **slots) -> str:
        """Enter a flow at its first step (a flow may refuse, e.g. an application already exists)."""
        flow = FLOWS[name]
        refusal = flow.refuse(self) if hasattr(flow, "refuse") else None
        if refusal:
            return refusal
        self.finish()
        first = flow.initial(self) if hasattr(flow, "initial") else flow.STATES[0]["name"]
        self.row.flow, self.row.state, self.row.slots = name, first, dict(slots)
        self.set_context(choices=None, feedback=None, more=None)
        return self.current_prompt()

    def current_prompt(self) -> str:
        run = FlowRun(self, self.row.state, self.row.slots)
        return self.machine(run).get_state(run.state).prompt(run)

    def answer(self, text: str, value=None) -> str:
        """Parse the answer to the current step, store it and move on."""
        run = FlowRun(self, self.row.state, self.row.slots)
        machine = self.machine(run)
        step = machine.get_state(run.state)
        try:
            value = step.parse(text) if value is None else value
        except Invalid as exc:
            self.row.failures += 1
            reply = texts.RETRY_HINT.format(hint=exc.hint)
            return reply + (texts.OFFER_HANDOFF if self.row.failures >= MAX_FAILURES else "")
        run.slots = {**run.slots, step.slot: value}
        run.trigger("answer")
        new = machine.get_state(run.state)
        reply = "\n".join([*run.notes, new.prompt(run)])
        if new.final:
            self.finish()
        else:
            self.row.state, self.row.slots, self.row.failures = run.state, run.slots, 0
        return reply

    def accepts_location(self) -> bool:
        return self.in_flow and self.machine(FlowRun(self, self.row.state, {})).get_state(self.row.state).accepts_location

    # -- global commands ------------------------------------------------------------------
    def cmd_cancel(self) -> str:
        if self.flow is None:
            self.set_context(choices=None, feedback=None, more=None)
            return texts.NOTHING_TO_CANCEL
        title = self.flow.TITLE
        self.finish()
        return texts.CANCELLED.format(title=title)

    def cmd_back(self) -> str:
        if not self.in_flow:
            return texts.NOTHING_TO_CANCEL
        run = FlowRun(self, self.row.state, self.row.slots)
        machine = self.machine(run)
        # No back transition, or only conditional ones that do not apply now (trigger → False).
        if "back" not in machine.get_triggers(run.state) or not run.trigger("back"):
            return texts.NOTHING_TO_GO_BACK + "\n\n" + self.current_prompt()
        self.row.state, self.row.failures = run.state, 0
        return self.current_prompt()

    def cmd_menu(self) -> str:
        choices = [target for _, target in texts.MENU_ITEMS]
        self.set_context(choices=choices, feedback=None, more=None)
        if self.flow is not None:
            self.set_context(paused=True)
            return texts.MENU + "\n" + texts.PAUSED.format(title=self.flow.TITLE)
        return texts.MENU

    def cmd_resume(self) -> str:
        if self.flow is None:
            return texts.NOTHING_TO_CANCEL
        self.set_context(paused=None, choices=None)
        return self.current_prompt()

    def cmd_handoff(self, reason: str | None = None) -> str:
        if self.worker.owner == "staff":
            return texts.HANDOFF_ALREADY
        if reason is None:
            reason = ("invalid_input" if self.in_flow and self.row.failures >= MAX_FAILURES
                      else "not_helpful" if self.row.context.get("unhelpful") else "asked")
        if self.flow is not None:
            self.set_context(paused=True)
        return handoff.open(self.session, self.worker, reason, office_hours=self.config.get("OFFICE_HOURS", ""))

    def cmd_end_handoff(self) -> str:
        return texts.HANDOFF_ENDED
