"""`flask wechat menu push`: the official account's custom menu from config/menu.yaml, checked first.

https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Creating_Custom-Defined_Menu.html
At most 3 top-level entries with at most 5 sub-entries each; a top-level name has at most 16
bytes (UTF-8: 5 Chinese characters), a sub-entry's at most 60, a key 128, a URL 1024. CLICK
keys must be ones the menu handler knows (bot/handlers/menu.py CLICK_TARGETS), or the click
would only show the menu. The file uses WeChat's own field names, so it is the request body.
Checked by hand (not a schema library) so that every mistake names the entry it is in.
"""
from __future__ import annotations

import json
from pathlib import Path

import click
import yaml
from flask import current_app
from flask.cli import with_appcontext
from requests import RequestException
from wechatpy.exceptions import WeChatClientException

from bot.extensions import db
from bot.handlers.menu import CLICK_TARGETS

MAX_TOP, MAX_SUB = 3, 5
NAME_BYTES = {True: 16, False: 60}  # top level: 16 bytes; sub-entry: 60
KEY_BYTES, URL_BYTES = 128, 1024
KEY_TYPES = {"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin",
             "location_select"}
NEEDS = {"view": ("url",), "miniprogram": ("url", "appid", "pagepath"), "media_id": ("media_id",),
         "view_limited": ("media_id",), "article_id": ("article_id",), "article_view_limited": ("article_id",),
         **{t: ("key",) for t in KEY_TYPES}}
FIELDS = {"name", "type", "key", "url", "appid", "pagepath", "media_id", "article_id", "sub_button"}


class MenuError(ValueError):
    """The menu file breaks a WeChat rule or names a key the bot does not know (every problem listed)."""


def nbytes(text) -> int:
    return len(str(text).encode("utf-8"))


def check_entry(entry, where: str, top: bool) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: must be a mapping with name and type (or sub_button)"]
    name = str(entry.get("name") or "").strip()
    where = f"{where} 「{name}」" if name else where
    problems = [f"{where}: unknown field {f!r}" for f in sorted(set(entry) - FIELDS)]
    if not name:
        problems.append(f"{where}: needs a name")
    elif nbytes(name) > NAME_BYTES[top]:
        problems.append(f"{where}: name is {nbytes(name)} bytes, WeChat allows {NAME_BYTES[top]}")
    if "sub_button" in entry:
        subs = entry["sub_button"]
        if not top:
            return problems + [f"{where}: a sub-entry cannot have sub_button"]
        if set(entry) - {"name", "sub_button"}:
            problems.append(f"{where}: an entry with sub_button has only a name")
        if not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB:
            return problems + [f"{where}: sub_button must list 1 to {MAX_SUB} entries"]
        return problems + [p for i, sub in enumerate(subs, 1) for p in check_entry(sub, f"{where} › {i}", False)]
    kind = entry.get("type")
    if kind not in NEEDS:
        return problems + [f"{where}: type must be one of {', '.join(sorted(NEEDS))}, not {kind!r}"]
    problems += [f"{where}: type {kind} needs {field}" for field in NEEDS[kind] if not entry.get(field)]
    key, url = entry.get("key"), entry.get("url")
    if kind == "click" and key and key not in CLICK_TARGETS:
        problems.append(f"{where}: CLICK key {key!r} is not one the bot handles "
                        f"(bot/handlers/menu.py: {', '.join(CLICK_TARGETS)})")
    if key and nbytes(key) > KEY_BYTES:
        problems.append(f"{where}: key is {nbytes(key)} bytes, WeChat allows {KEY_BYTES}")
    if url and (not str(url).startswith(("http://", "https://")) or nbytes(url) > URL_BYTES):
        problems.append(f"{where}: url must start with http:// or https:// and have at most {URL_BYTES} bytes")
    return problems


def load(path: str | Path) -> dict:
    """The request body for menu/create, or MenuError listing every problem."""
    try:
        entries = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MenuError(f"{path}: {exc}") from None
    if isinstance(entries, dict) and set(entries) == {"button"}:
        entries = entries["button"]
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_TOP:
        raise MenuError(f"{path}: the menu must list 1 to {MAX_TOP} top-level entries")
    problems = [p for i, entry in enumerate(entries, 1) for p in check_entry(entry, f"entry {i}", True)]
    if problems:
        raise MenuError(f"{path}:\n  " + "\n  ".join(problems))
    return {"button": entries}


@click.group("wechat")
def wechat_cli() -> None:
    """The official account itself (custom menu)."""


@wechat_cli.group("menu")
def menu_cli() -> None:
    """The custom menu."""


@menu_cli.command("push")
@click.option("--file", "menu_file", type=click.Path(dir_okay=False), help="Default: config/menu.yaml.")
@click.option("--dry-run", is_flag=True, help="Check and print the request body; send nothing.")
@with_appcontext
def push(menu_file: str | None, dry_run: bool) -> None:
    """Check the menu file, then create the custom menu through the WeChat API (replaces the old one)."""
    from bot import wechat_api

    path = menu_file or Path(current_app.root_path) / "config" / "menu.yaml"
    try:
        body = load(path)
    except MenuError as exc:
        raise click.ClickException(f"menu not sent: {exc}") from None
    if dry_run:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    try:
        wechat_api.client().menu.create(body)
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the menu: {exc.errcode} {exc.errmsg}") from None
    except RequestException as exc:
        raise click.ClickException(f"WeChat API not reached: {exc}") from None
    finally:
        db.session.commit()  # the access token the client may have fetched and stored
    click.echo(f"menu created: {len(body['button'])} top-level entries, "
               f"{sum(len(b.get('sub_button', [])) for b in body['button'])} sub-entries")
