"""Encryption at rest for ID numbers (Fernet) plus a keyed hash so uniqueness can be checked."""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from flask import current_app


def _key_material() -> bytes:
    """DATA_KEY when set (a Fernet key), otherwise derived from SECRET_KEY (development)."""
    configured = current_app.config.get("DATA_KEY") or ""
    if configured:
        return base64.urlsafe_b64decode(configured)
    return hashlib.sha256(("data-key:" + current_app.config["SECRET_KEY"]).encode()).digest()


def encrypt(value: str) -> str:
    return Fernet(base64.urlsafe_b64encode(_key_material())).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return Fernet(base64.urlsafe_b64encode(_key_material())).decrypt(token.encode()).decode()


def keyed_hash(value: str) -> str:
    return hmac.new(_key_material(), value.encode(), hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    """110105********002X: region and check digits visible, birth date hidden."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)
