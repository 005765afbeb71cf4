"""Two-factor login with time-based one-time codes (TOTP, RFC 6238) and recovery codes.

pyotp computes and checks the codes; segno draws the enrolment QR code as inline SVG (no image
request, nothing the Content-Security-Policy would have to allow). The TOTP secret has to be
kept readable to check codes; recovery codes are random and stored only as keyed hashes.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any

import pyotp
import segno

from survey.users.models import User
from survey.users.tokens import keyed_hash

ISSUER = "Birge"
RECOVERY_CODES = 8
# Readable aloud and from paper: no 0/O, 1/I/L, 2/Z, 5/S, 8/B.
RECOVERY_ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"


def required_for(user: User, config: Mapping[str, Any]) -> bool:
    """Whether the settings require two-factor login for this user's role."""
    return user.role in set(config.get("TWO_FACTOR_REQUIRED_ROLES") or ())


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(username: str, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(text: str) -> str:
    """A QR code of text as an inline <svg> element."""
    qr = segno.make(text, error="m")
    size = qr.symbol_size(scale=4, border=4)[0]
    # A viewBox lets the page shrink the code to a narrow screen (the CSS puts it on white).
    svg = qr.svg_inline(scale=4, border=4)
    return svg.replace("<svg ", f'<svg viewBox="0 0 {size} {size}" ', 1)


def code_is_valid(secret: str, code: str) -> bool:
    """Whether a typed 6-digit code matches now (one step of clock drift either way)."""
    digits = "".join(ch for ch in code if ch.isdigit())
    return len(digits) == 6 and pyotp.TOTP(secret).verify(digits, valid_window=1)


def _normalize_recovery(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_recovery_codes() -> tuple[list[str], list[str]]:
    """(codes to show once, their keyed hashes to store)."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes, [keyed_hash(_normalize_recovery(c), "recovery-code") for c in codes]


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one of user's recovery codes (each works once); False when it matches none."""
    wanted = keyed_hash(_normalize_recovery(code), "recovery-code")
    remaining = list(user.recovery_code_hashes or [])
    for stored in remaining:
        if hmac.compare_digest(stored, wanted):
            remaining.remove(stored)
            user.recovery_code_hashes = remaining
            return True
    return False


def enable(user: User, secret: str) -> list[str]:
    """Turn two-factor login on with a confirmed secret; returns the recovery codes to show."""
    codes, hashes = new_recovery_codes()
    user.totp_secret = secret
    user.recovery_code_hashes = hashes
    return codes


def disable(user: User) -> None:
    """Turn two-factor login off."""
    user.totp_secret = None
    user.recovery_code_hashes = None
