"""The secret token of the staff calendar feed. Outlook subscribes with the URL alone, so the
token is the only key; rotating it replaces the row and the old URL stops working at once."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from sqlalchemy import delete, select

from booking.extensions import db, transaction
from booking.models import FeedToken


def current_token() -> str | None:
    return db.session.scalar(select(FeedToken.token).order_by(FeedToken.id.desc()).limit(1))


def rotate(now: datetime) -> str:
    """A new token in place of the old one, in one transaction."""
    token = secrets.token_urlsafe(32)
    with transaction():
        db.session.execute(delete(FeedToken))
        db.session.add(FeedToken(token=token, created_at=now))
    return token


def is_valid(token: str) -> bool:
    current = current_token()
    return bool(current and token) and hmac.compare_digest(current.encode(), token.encode())
