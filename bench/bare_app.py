"""The floor for bench/webhook.py: the least a Flask + wechatpy webhook must do per text message.

Checks the timestamp and signature, decrypts in safe mode, parses with wechatpy.parse_message,
echoes the text back with create_reply and encrypts the reply in safe mode. No database, no
routing. Same settings as the bot (WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_AES_KEY, TIMESTAMP_WINDOW).

    gunicorn -w 2 -b 127.0.0.1:8001 --pythonpath bench 'bare_app:create_app()'
"""
from __future__ import annotations

import os
import time

from flask import Flask, abort, request
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature


def create_app() -> Flask:
    app = Flask(__name__)
    token = os.environ.get("WECHAT_TOKEN") or "dev-token"
    app_id = os.environ.get("WECHAT_APP_ID") or "wx0000000000000000"
    aes_key = os.environ.get("WECHAT_AES_KEY") or ""
    window = int(os.environ.get("TIMESTAMP_WINDOW") or 300)
    crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None

    @app.post("/wechat")
    def wechat():
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > window:
            abort(403)
        try:
            check_signature(token, args.get("signature", ""), timestamp, nonce)
        except InvalidSignatureException:
            abort(403)
        xml = request.get_data(as_text=True)
        encrypted = args.get("encrypt_type", "raw").lower() == "aes"
        if encrypted:
            if crypto is None:
                abort(400)
            try:
                xml = crypto.decrypt_message(xml, args.get("msg_signature", ""), timestamp, nonce)
            except InvalidSignatureException:
                abort(403)
            except (InvalidAppIdException, ValueError, KeyError):
                abort(400)
        msg = parse_message(xml)
        if msg.type != "text":
            return "success", 200, {"Content-Type": "text/plain"}
        reply = create_reply(msg.content, msg).render()
        if encrypted:
            reply = crypto.encrypt_message(reply, nonce, timestamp)
        return reply, 200, {"Content-Type": "application/xml; charset=utf-8"}

    return app
