"""Command-line tools: the terminal chat goes through the real webhook."""
from sqlalchemy import func, select

from bot.models import Message


def test_flask_chat_talks_through_the_webhook(runner, db_session):
    result = runner.invoke(args=["chat", "--openid", "o_cli"], input="菜单\n/菜单键 LEGAL_AID\n取消\n/退出\n")
    assert result.exit_code == 0, result.output
    assert "欢迎关注" in result.output          # the subscribe event on start
    assert "职工之家可以帮您" in result.output
    assert "哪类问题" in result.output          # the menu click started a flow
    assert "已取消" in result.output
    inbound = db_session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    assert inbound == 4


def test_flask_chat_in_safe_mode(make_app):
    from tests.support import AES_KEY

    app = make_app(WECHAT_AES_KEY=AES_KEY)
    result = app.test_cli_runner().invoke(args=["chat"], input="菜单\n")
    assert "安全模式" in result.output and "职工之家可以帮您" in result.output


def test_browser_simulator_page_and_send(client):
    page = client.get("/dev/chat")
    assert page.status_code == 200 and "职工之家" in page.get_data(as_text=True)
    resp = client.post("/dev/chat/send", json={"openid": "o_page", "kind": "text", "text": "菜单"})
    assert resp.status_code == 200 and "职工之家可以帮您" in resp.get_json()["reply"]
    resp = client.post("/dev/chat/send", json={"openid": "o_page", "kind": "event", "event": "CLICK",
                                               "key": "LEGAL_AID"})
    assert "哪类问题" in resp.get_json()["reply"]
