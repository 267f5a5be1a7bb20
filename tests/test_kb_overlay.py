"""The knowledge-base overlay: examples staff add in the workbench teach the router (in every process,
after a restart too), are exported to faq/*.yaml faithfully, and never put one question in two entries."""
from __future__ import annotations

import difflib
import shutil
import time

import pytest
from sqlalchemy import select

from bot import faq
from bot.models import AuditLog, KbExample
from tests.support import Chat, database

# A question the router falls back on today; legal.work_injury is where it belongs.
QUESTION = "骑手摔车了谁管"
ENTRY = "legal.work_injury"



def answered_by(app, reply: str, faq_id: str) -> bool:
    with app.app_context():
        return faq.render(faq_id)[0][:30] in reply


def add(desk, text: str, faq_id: str | None) -> str:
    url, data = ("/staff/insights/example", {"text": text, "faq_id": faq_id}) if faq_id else \
        ("/staff/insights/out-of-scope", {"text": text})
    return desk.post(url, data, follow_redirects=True).get_data(as_text=True)


@pytest.mark.slow
def test_an_example_added_in_the_workbench_is_answered_and_survives_a_restart(make_app, desk):
    app = make_app()
    worker = Chat(app)
    assert not answered_by(app, worker.say(QUESTION), ENTRY)
    assert "已加为「工伤怎么认定」的例句" in add(desk("wang"), QUESTION, ENTRY)
    # the same process learns it within seconds (the version is checked off the message path, the
    # index rebuilt in the background); the worker's messages are answered meanwhile
    deadline, reply = time.monotonic() + 180, ""
    while time.monotonic() < deadline and not answered_by(app, reply, ENTRY):
        time.sleep(1)
        reply = worker.say(QUESTION)
    assert answered_by(app, reply, ENTRY), worker.format_transcript()
    # a restart: a new app on the same database answers it from its first message
    again = make_app()
    assert answered_by(again, Chat(again, openid="o_after_restart").say(QUESTION), ENTRY)


@pytest.mark.slow
def test_marking_a_near_miss_out_of_scope_makes_it_fall_back(make_app, desk):
    app = make_app()
    near_miss = "合同能源管理是什么意思"  # shares 合同 with the contract entries, and is not about work
    assert "暂时回答不了" not in Chat(app).say(near_miss)
    assert "已标为超出服务范围" in add(desk("wang"), near_miss, None)
    restarted = make_app()
    assert "暂时回答不了" in Chat(restarted, openid="o_near_miss").say(near_miss)


def test_a_question_is_never_an_example_of_two_entries(app, desk):
    wang = desk("wang")
    assert "已加为" in add(wang, QUESTION, ENTRY)
    for variant in (QUESTION, "骑手摔车了，谁管？", "騎手摔車了誰管"):  # punctuation, Traditional
        assert "一个问题只能属于一个条目" in add(wang, variant, "legal.overtime_pay"), variant
    assert "已经是「工伤怎么认定」的例句了" in add(wang, QUESTION, ENTRY)
    assert "一个问题只能属于一个条目" in add(wang, QUESTION, None)
    with app.app_context():
        in_file = faq.entry("legal.overtime_pay").examples[0]  # already an example in faq/legal.yaml
    assert "一个问题只能属于一个条目" in add(wang, in_file, "legal.annual_leave")
    assert "没有这个知识库条目" in add(wang, "另一个问题", "legal.no_such_entry")
    with database(app) as session:
        assert session.scalars(select(KbExample.faq_id)).all() == [ENTRY]
        assert session.scalars(select(AuditLog.action).where(AuditLog.action.startswith("kb."))).all() == [
            "kb.example_add"]


def test_a_removed_example_can_be_placed_again(app, desk):
    wang = desk("wang")
    add(wang, QUESTION, "legal.overtime_pay")  # a slip of the hand
    with database(app) as session:
        example_id = session.scalars(select(KbExample.id)).one()
    assert "已移除" in wang.post(f"/staff/insights/overlay/{example_id}/delete", follow_redirects=True).get_data(
        as_text=True)
    assert "已加为" in add(wang, QUESTION, ENTRY)


@pytest.fixture
def faq_copy(tmp_path):
    directory = tmp_path / "faq"
    shutil.copytree(faq.DEFAULT_FAQ_DIR, directory)
    return directory


def test_export_writes_the_overlay_into_the_files_faithfully(make_app, desk, faq_copy):
    app = make_app(FAQ_DIR=str(faq_copy))
    wang = desk("wang")
    add(wang, QUESTION, ENTRY)
    add(wang, "我在地铁站摔了一跤, 这个算工伤吗: 上班路上", ENTRY)  # a comma and a colon: quoted in YAML
    add(wang, "中国的工会和国外的union一样吗", "union.about")
    add(wang, "我跟老婆吵架了，你们能帮忙调解一下吗", None)
    before = {p.name: p.read_text(encoding="utf-8") for p in faq_copy.glob("*.yaml")}
    original = faq.load(faq_copy)
    result = app.test_cli_runner().invoke(args=["faq", "export-overlay"])
    assert result.exit_code == 0, result.output
    assert "已把 4 条例句写入" in result.output
    after = {p.name: p.read_text(encoding="utf-8") for p in faq_copy.glob("*.yaml")}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"legal.yaml", "union.yaml", "out_of_scope.yaml"}
    for name in changed:  # only lines added: every comment, quote and indentation kept
        diff = [d for d in difflib.ndiff(before[name].splitlines(), after[name].splitlines()) if d[:1] in "+-"]
        assert all(d.startswith("+ ") for d in diff), diff
    loaded = faq.load(faq_copy)
    assert loaded.entries[ENTRY].examples == original.entries[ENTRY].examples + (
        QUESTION, "我在地铁站摔了一跤, 这个算工伤吗: 上班路上")
    assert loaded.entries["union.about"].examples[-1] == "中国的工会和国外的union一样吗"
    assert loaded.out_of_scope[-1] == "我跟老婆吵架了，你们能帮忙调解一下吗"
    assert {k: e for k, e in loaded.entries.items() if k not in (ENTRY, "union.about")} == \
        {k: e for k, e in original.entries.items() if k not in (ENTRY, "union.about")}
    with database(app) as session:
        assert all(row.exported_at is not None for row in session.scalars(select(KbExample)))
    again = app.test_cli_runner().invoke(args=["faq", "export-overlay"])
    assert again.exit_code == 0 and "没有需要导出的例句" in again.output
    assert {p.name: p.read_text(encoding="utf-8") for p in faq_copy.glob("*.yaml")} == after
    assert "已经是「工伤怎么认定」的例句了" in add(wang, QUESTION, ENTRY)  # in the files now


def test_export_refuses_a_question_the_files_put_under_another_entry(make_app, desk, faq_copy):
    app = make_app(FAQ_DIR=str(faq_copy))
    add(desk("wang"), QUESTION, ENTRY)
    legal = faq_copy / "legal.yaml"
    anchor = "    - 我工作12年了，年假有几天\n"
    text = legal.read_text(encoding="utf-8")
    assert anchor in text
    legal.write_text(text.replace(anchor, anchor + f"    - {QUESTION}\n", 1), encoding="utf-8")  # by hand, elsewhere
    edited = {p.name: p.read_text(encoding="utf-8") for p in faq_copy.glob("*.yaml")}
    result = app.test_cli_runner().invoke(args=["faq", "export-overlay"])
    assert result.exit_code == 1 and "一个问题只能属于一个条目" in result.output and QUESTION in result.output
    assert {p.name: p.read_text(encoding="utf-8") for p in faq_copy.glob("*.yaml")} == edited  # nothing written
    with database(app) as session:
        assert session.scalars(select(KbExample.exported_at)).one() is None
