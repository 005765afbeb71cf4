"""Random tokens and the hashes stored in their place.

A session id, a device token or a recovery code is random with at least 128 bits, so one round of
SHA-256 is enough to store it: there is nothing to guess offline (argon2 is for passwords, which
people choose). Values that are *not* random (a typed username, a network address) are hashed
with HMAC and the app's secret key, so the stored hash cannot be reversed by trying candidates.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token (32 bytes: 256 bits)."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) stored for a random token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA-256 (hex) of a guessable value with the app's secret key, per purpose."""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
