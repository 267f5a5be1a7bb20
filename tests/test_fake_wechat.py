"""The fake WeChat API server itself: tokens, sends, records and faults, over real HTTP."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from bot.fake_wechat import FakeWeChat

ROOT = Path(__file__).resolve().parent.parent


def stable(fake, force=False):
    return requests.post(fake.url + "stable_token", json={"grant_type": "client_credential", "appid": "wx1",
                                                          "secret": "s", "force_refresh": force}, timeout=5).json()


def custom(fake, token, touser="o_1", content="你好", **kw):
    return requests.post(fake.url + "message/custom/send", params={"access_token": token}, timeout=kw.pop("timeout", 5),
                         json={"touser": touser, "msgtype": "text", "text": {"content": content}}).json()


def template(fake, token, key="k1", value="入会申请已通过", touser="o_1"):
    return requests.post(fake.url + "message/template/send", params={"access_token": token}, timeout=5, json={
        "touser": touser, "template_id": "TPL", "client_msg_id": key, "data": {"thing1": {"value": value}}}).json()


def test_stable_token_is_the_same_until_forced_and_force_revokes_the_old_one(fake_wechat):
    first, again = stable(fake_wechat), stable(fake_wechat)
    assert first["access_token"] == again["access_token"] and first["expires_in"] > 7000
    forced = stable(fake_wechat, force=True)["access_token"]
    assert forced != first["access_token"]
    assert custom(fake_wechat, first["access_token"])["errcode"] == 40001
    assert custom(fake_wechat, forced)["errcode"] == 0
    assert fake_wechat.token_fetches == 3


def test_classic_token_and_expired_tokens(fake_wechat):
    token = requests.get(fake_wechat.url + "token", params={"grant_type": "client_credential", "appid": "wx1",
                                                            "secret": "s"}, timeout=5).json()["access_token"]
    assert custom(fake_wechat, token)["errcode"] == 0
    fake_wechat.expire_tokens()
    assert custom(fake_wechat, token)["errcode"] == 42001
    assert custom(fake_wechat, "")["errcode"] == 41001


def test_sent_messages_are_recorded_and_listed_over_http(fake_wechat):
    token = stable(fake_wechat)["access_token"]
    custom(fake_wechat, token, touser="o_1", content="第一条")
    custom(fake_wechat, token, touser="o_2", content="第二条")
    listed = requests.get(fake_wechat.url.replace("/cgi-bin/", "/_fake/sent"), params={"touser": "o_2"}, timeout=5)
    assert [m["content"] for m in listed.json()["sent"]] == ["第二条"]
    calls = fake_wechat.calls("message/custom/send")
    assert [(c["token"], c["body"]["text"]["content"]) for c in calls] == [(token, "第一条"), (token, "第二条")]


def test_template_sends_are_deduplicated_by_client_msg_id(fake_wechat):
    token = stable(fake_wechat)["access_token"]
    first, second = template(fake_wechat, token, key="decision:1"), template(fake_wechat, token, key="decision:1")
    other = template(fake_wechat, token, key="decision:2")
    assert first["msgid"] == second["msgid"] != other["msgid"]
    assert len(fake_wechat.sent()) == 2


@pytest.mark.parametrize("value", ["这是一条超过二十个字的模板消息内容会被微信拒绝的", "两行\n内容"])
def test_template_values_are_checked_like_wechat_does(fake_wechat, value):
    assert template(fake_wechat, stable(fake_wechat)["access_token"], value=value)["errcode"] == 47003
    assert fake_wechat.sent() == []


def test_faults_set_over_http_answer_the_next_n_calls(fake_wechat):
    token = stable(fake_wechat)["access_token"]
    control = fake_wechat.url.replace("/cgi-bin/", "/_fake/")
    requests.post(control + "faults", json={"errcode": 45015, "count": 2}, timeout=5).raise_for_status()
    assert [custom(fake_wechat, token)["errcode"] for _ in range(3)] == [45015, 45015, 0]
    assert requests.get(control + "stats", timeout=5).json()["sent"] == 1


def test_a_share_of_calls_fails_the_same_way_for_the_same_seed():
    def pattern(seed):
        with FakeWeChat(seed=seed) as fake:
            fake.fault(-1, share=0.3)
            token = stable(fake)["access_token"]
            return [custom(fake, token)["errcode"] for _ in range(40)]

    first = pattern(7)
    assert first == pattern(7) and 0 < first.count(-1) < 40


@pytest.mark.parametrize("when, recorded", [("before", 0), ("after", 1)])
def test_dropped_connections_before_or_after_wechat_accepts(fake_wechat, when, recorded):
    token = stable(fake_wechat)["access_token"]
    fake_wechat.fault(drop=when)
    with pytest.raises(requests.ConnectionError):
        custom(fake_wechat, token)
    assert len(fake_wechat.sent()) == recorded
    assert custom(fake_wechat, token)["errcode"] == 0  # the next call is answered


def test_a_slow_answer_outlasts_a_short_client_timeout(fake_wechat):
    token = stable(fake_wechat)["access_token"]
    fake_wechat.fault(slow=2.0)
    with pytest.raises(requests.ReadTimeout):
        custom(fake_wechat, token, timeout=0.3)
    assert len(fake_wechat.sent()) == 1  # WeChat got it even though the caller gave up


def test_menu_create_is_checked_and_kept(fake_wechat):
    token = stable(fake_wechat)["access_token"]
    menu = {"button": [{"type": "click", "name": "法律咨询", "key": "LEGAL"},
                       {"name": "服务", "sub_button": [{"type": "click", "name": "入会申请", "key": "MEMBERSHIP"}]}]}

    def post(body):
        return requests.post(fake_wechat.url + "menu/create", params={"access_token": token}, json=body,
                             timeout=5).json()

    assert post(menu)["errcode"] == 0 and fake_wechat.menu == menu
    four = {"button": [{"type": "click", "name": f"菜单{i}", "key": f"K{i}"} for i in range(4)]}
    assert post(four)["errcode"] == 40016


def test_runs_as_a_separate_process(unused_port):
    with subprocess.Popen([sys.executable, "-m", "bot.fake_wechat", "--port", str(unused_port)], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
        try:
            assert "fake WeChat API on" in proc.stdout.readline()
            stats = requests.get(f"http://127.0.0.1:{unused_port}/_fake/stats", timeout=5).json()
            assert stats["calls"] == 0
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_held_requests_wait_for_release(fake_wechat):
    import threading

    token = stable(fake_wechat)["access_token"]
    fake_wechat.fault(hold="after")
    result = {}
    t = threading.Thread(target=lambda: result.update(custom(fake_wechat, token)))
    t.start()
    assert fake_wechat.wait_held(timeout=10)
    assert len(fake_wechat.sent()) == 1 and result == {}  # accepted, not yet answered
    fake_wechat.release()
    t.join(timeout=10)
    assert not t.is_alive() and result["errcode"] == 0
