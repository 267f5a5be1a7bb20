"""Bounded work for what a worker types: every parser of every flow step, and the router.

A run of thousands of digits or Chinese numerals used to raise inside the message's transaction
(int() refuses more than 4,300 digits, cn2an overflows a float) or cost time growing with the cube
of its length while the write lock was held (cn2an.transform at a date step). Now every parser
refuses an over-long answer with its own hint before it does any work, and the router reads only
the first bot.nlu.matcher.MAX_ROUTE_CHARS characters.
"""
from __future__ import annotations

import gc
import json
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot import texts
from bot.flows import FLOWS, steps
from bot.flows.steps import Invalid

DIGITS, NUMERALS, WIDE = "0123456789", "〇零一二两三四五六七八九十百千万亿点", "０１２３４５６７８９"
FIVE_THOUSAND = {"digits": "1" * 5000, "numerals": "一" * 5000, "mixed": "二〇二二年" + "9" * 4995}
# The one timed assertion the issue asks for. Measured on this 2-core machine under load: a
# 5,000-character answer is re-asked in 9 ms of CPU (median over every step, 24 ms at most)
# through the whole webhook, its parser well under 1 ms; 100 ms leaves room for a slower machine.
# The old code raised, or took 5.5 s of CPU for 1,000 digits at a date step (cubic in the length).
CPU_LIMIT_S = 0.100

# Every parser a flow step uses, by "flow.state", plus the shared ones with their own settings.
PARSERS = {f"{name}.{state['name']}": state["parse"]
           for name, flow in FLOWS.items() for state in flow.states if state.get("parse")}
PARSERS.update({"steps.number": steps.number, "steps.date_phrase": steps.date_phrase(),
                "steps.multi_choice": steps.multi_choice(["a", "b", "无"], "无")})


def runs(alphabet: str, longest: int):
    """A short pattern over `alphabet` repeated up to `longest` characters (hypothesis draws it cheaply)."""
    return st.builds(lambda pattern, n: (pattern * n)[: n * len(pattern)], st.text(alphabet, min_size=1, max_size=6),
                     st.integers(1, longest))


ODD = ["NaN", "nan", "-nan", "inf", "-inf", "+inf", "Infinity", "-Infinity", "1e999", "-1e400", "36.5e1",
       "٣٦٫٥", "३६.५", "𝟑𝟔.𝟓", "３６．５", "36.5\x00", "\x00", "一\x00", "Ⅻ", "½", "36,5", "三十六点五五五五五",
       "2022年二月三十日", "第一千亿个", "零点零零零零一", "13812345678\x00", "11010519491231002X\x00",
       "\u202e1", "\ufeff1", "1\u200b", "ｘ", "1 " * 40]
odd_inputs = st.one_of(
    st.sampled_from(ODD),
    runs(DIGITS, 1500), runs(NUMERALS, 1500), runs(WIDE, 1500), runs(DIGITS + NUMERALS + WIDE + ".-年月日号", 1500),
    st.text(max_size=60),  # any script, control characters, surrogates excluded by hypothesis
    st.tuples(st.text(max_size=4), st.sampled_from(ODD), st.text(max_size=4)).map("".join),
)


@pytest.fixture(scope="module")
def parser_app():
    """An app for its config only (the options file): parsers never touch the database."""
    from app import create_app

    return create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})


def storable(value) -> bool:
    """A parsed value the database accepts on every backend: JSON without NaN / Infinity / NUL."""
    text = json.dumps(value, allow_nan=False)
    return "\\u0000" not in text


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=odd_inputs)
@example(text="1" * 5000)
@example(text="一" * 5000)
@example(text="9" * 1200)
def test_every_parser_refuses_long_huge_and_odd_answers_with_a_hint(parser_app, name, text):
    with parser_app.app_context():  # some parsers read the options file named in the config
        try:
            value = PARSERS[name](text)
        except Invalid as exc:
            assert exc.hint.strip()
            return
    assert name == "steps.number" or len(text) <= 300, f"{len(text)} characters accepted"
    assert value is None or storable(value)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_a_five_thousand_character_answer_is_refused_as_too_long(parser_app, name):
    for text in FIVE_THOUSAND.values():
        with parser_app.app_context():
            if name == "steps.number":
                assert steps.number(text) is None
                continue
            with pytest.raises(Invalid) as refused:
                PARSERS[name](text)
        assert "太长" in refused.value.hint, refused.value.hint


# -- through the webhook: at every step of every flow, and outside a flow --------------------------------
STEPS = [(name, state["name"]) for name, flow in FLOWS.items() for state in flow.states if state.get("parse")]


def cpu_of(call):
    """(result, CPU seconds this process spent on the call). The cyclic garbage collector is run
    before and kept out of the call: a full collection of this process's heap (the router's index,
    jieba's dictionary) takes 100–200 ms whenever it happens to fall due, whatever the message."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        result = call()
        return result, time.process_time() - start
    finally:
        gc.enable()


@pytest.mark.parametrize("kind", sorted(FIVE_THOUSAND))
@pytest.mark.parametrize(("flow", "state"), STEPS, ids=[f"{f}.{s}" for f, s in STEPS])
def test_a_five_thousand_character_answer_at_any_step_is_re_asked_at_once(chat, flow, state, kind):
    chat.start(f"flow.{flow}", state=state)
    reply, cpu = cpu_of(lambda: chat.say(FIVE_THOUSAND[kind]))
    assert "太长" in reply and not reply.startswith("没看懂"), chat.format_transcript()
    assert chat.state == (flow, state)
    assert cpu < CPU_LIMIT_S, f"{cpu * 1000:.0f} ms of CPU for one re-ask"


@pytest.mark.parametrize("kind", sorted(FIVE_THOUSAND))
def test_a_five_thousand_character_message_outside_a_flow_is_answered_at_once(chat, kind):
    chat.say("你好")  # the router is built on the first message; that is not what is measured
    reply, cpu = cpu_of(lambda: chat.say(FIVE_THOUSAND[kind]))
    assert reply and texts.SYSTEM_BUSY not in reply, chat.format_transcript()
    assert cpu < CPU_LIMIT_S, f"{cpu * 1000:.0f} ms of CPU for one message"


def test_the_router_reads_a_bounded_prefix_of_a_long_message():
    from bot.nlu import route
    from bot.nlu.matcher import MAX_ROUTE_CHARS

    assert route("一" * 5000) == route("一" * MAX_ROUTE_CHARS)
    assert route("公司拖欠工资怎么办" + " " * 5000).target == "legal.wage_arrears"


def test_flask_nlu_route_answers_every_line_of_long_input(runner):
    lines = [FIVE_THOUSAND["digits"], FIVE_THOUSAND["numerals"], "公司拖欠工资怎么办"]
    result = runner.invoke(args=["nlu", "route"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.output.splitlines()]
    assert [a["text"] for a in answers] == lines
    assert [a["target"] for a in answers[:2]] == ["fallback", "fallback"]
    assert "error" not in json.dumps(answers)
