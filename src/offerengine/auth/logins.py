"""The admin UI's logins as use cases, each in sessions of its own from the app context: a
password checked and the login recorded, every session of a user ended, and the visitor behind a
session cookie. The rules themselves (passwords, epochs, roles) are :mod:`offerengine.auth.users`."""

from __future__ import annotations

import uuid

from offerengine.auth import users
from offerengine.auth.models import User
from offerengine.auth.sessions import SessionData
from offerengine.db.session import Sessions, write_transaction


async def log_in(sessions: Sessions, email: str, password: str) -> User | None:
    """The user of ``email`` if ``password`` is hers, her login recorded (the time, a password
    hash renewed); None if not."""
    async with sessions.session_factory() as session:
        user = await users.authenticate(session, email, password)
    if user is None:
        return None
    changes = users.login_changes(user, password)
    # A transaction of its own, SQLite's write lock taken up front: concurrent logins queue.
    async with write_transaction(sessions) as session:
        await users.record_login(session, user, changes)
    return user


async def log_out(sessions: Sessions, user_id: uuid.UUID) -> None:
    """End every session of the user."""
    async with write_transaction(sessions) as session:
        await users.log_out(session, user_id)


async def visitor(sessions: Sessions, data: SessionData) -> users.Visitor | None:
    """The visitor of a session cookie's data, or None if that session has ended."""
    async with sessions.session_factory() as session:
        return await users.visitor(session, data)
