"""The one clock: every stored or compared time is timezone-aware UTC."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Timezone-aware now in UTC: every stored datetime is UTC."""
    return dt.datetime.now(dt.UTC)
