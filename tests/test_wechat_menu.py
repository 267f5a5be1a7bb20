"""`flask wechat menu push`: config/menu.yaml checked, then sent to a loopback WeChat API stand-in."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.handlers.menu import CLICK_TARGETS

MENU_FILE = Path(__file__).resolve().parent.parent / "config" / "menu.yaml"


def menu_requests(server) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in server.log if req.path == "/cgi-bin/menu/create"]


def test_the_menu_file_is_pushed_as_it_is(api_app, wechat_api):
    wechat_api.expect_request("/cgi-bin/menu/create", method="POST").respond_with_json({"errcode": 0, "errmsg": "ok"})
    result = api_app.test_cli_runner().invoke(args=["wechat", "menu", "push"])
    assert result.exit_code == 0, result.output
    assert "menu created: 3 top-level entries" in result.output
    [body] = menu_requests(wechat_api)
    assert body == {"button": yaml.safe_load(MENU_FILE.read_text(encoding="utf-8"))}
    clicks = [b["key"] for top in body["button"] for b in top.get("sub_button", [top]) if b.get("type") == "click"]
    assert clicks and set(clicks) <= set(CLICK_TARGETS)


BAD_MENUS = [
    ("four top-level entries",
     [{"name": f"菜单{i}", "type": "click", "key": "MENU"} for i in range(4)], "1 to 3 top-level"),
    ("six sub-entries",
     [{"name": "服务", "sub_button": [{"name": f"子{i}", "type": "click", "key": "MENU"} for i in range(6)]}],
     "entry 1 「服务」: sub_button must list 1 to 5"),
    ("a key the bot does not know",
     [{"name": "法律服务", "sub_button": [{"name": "欠薪求助", "type": "click", "key": "WAGES"}]}],
     "entry 1 「法律服务」 › 1 「欠薪求助」: CLICK key 'WAGES' is not one the bot handles"),
    ("a top-level name over 16 bytes",
     [{"name": "职工法律服务中心", "type": "click", "key": "LEGAL"}],
     "entry 1 「职工法律服务中心」: name is 24 bytes, WeChat allows 16"),
    ("a link without its url",
     [{"name": "官网", "type": "view"}], "entry 1 「官网」: type view needs url"),
    ("a misspelt field",
     [{"name": "入会", "type": "click", "kye": "MEMBERSHIP"}], "unknown field 'kye'"),
]


@pytest.mark.parametrize(("menu", "error"), [pytest.param(m, e, id=i) for i, m, e in BAD_MENUS])
def test_a_bad_menu_is_refused_naming_the_entry_and_nothing_is_sent(api_app, wechat_api, tmp_path, menu, error):
    path = tmp_path / "menu.yaml"
    path.write_text(yaml.safe_dump(menu, allow_unicode=True), encoding="utf-8")
    result = api_app.test_cli_runner().invoke(args=["wechat", "menu", "push", "--file", str(path)])
    assert result.exit_code == 1
    assert "menu not sent" in result.output and error in result.output, result.output
    assert menu_requests(wechat_api) == []


def test_every_problem_is_listed_at_once(api_app, tmp_path):
    path = tmp_path / "menu.yaml"
    path.write_text(yaml.safe_dump([{"name": "一", "type": "click", "key": "NOPE"},
                                    {"name": "二", "type": "view", "url": "ftp://x"}], allow_unicode=True),
                    encoding="utf-8")
    output = api_app.test_cli_runner().invoke(args=["wechat", "menu", "push", "--file", str(path)]).output
    assert "entry 1 「一」: CLICK key 'NOPE'" in output and "entry 2 「二」: url must start with http" in output


def test_wechat_refusing_the_menu_is_reported(api_app, wechat_api):
    wechat_api.expect_request("/cgi-bin/menu/create").respond_with_json({"errcode": 40018, "errmsg": "invalid button name size"})
    result = api_app.test_cli_runner().invoke(args=["wechat", "menu", "push"])
    assert result.exit_code == 1 and "WeChat refused the menu: 40018 invalid button name size" in result.output


def test_dry_run_checks_and_prints_without_sending(api_app, wechat_api):
    result = api_app.test_cli_runner().invoke(args=["wechat", "menu", "push", "--dry-run"])
    assert result.exit_code == 0 and json.loads(result.output)["button"][0]["name"] == "入会服务"
    assert menu_requests(wechat_api) == []
