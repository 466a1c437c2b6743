"""The admin UI's logins as use cases, each in sessions of its own from the app context: a
password checked under the login throttle and the login recorded, every session of a user
ended, and the visitor behind a session cookie. The rules themselves (passwords, epochs, roles)
are :mod:`offerengine.auth.users`; the throttle is :mod:`offerengine.auth.throttle`.

A login attempt: the throttle lets it through (counted as a failure until it succeeds) or
refuses it with a wait; one let through on an account under attack from many addresses is held
a little first; then the password is checked on a worker thread, with no connection held.
Every failure and refusal is logged with the client's address and the account's keyed digest
(:func:`offerengine.observability.redaction.identifier`), never the email or the password."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from offerengine.auth import users
from offerengine.auth.models import User
from offerengine.auth.sessions import Passwords, PasswordsBusy, SessionData
from offerengine.auth.throttle import LoginGuard
from offerengine.db.session import Sessions, write_transaction
from offerengine.observability import redaction
from offerengine.observability.logging import get_logger

log = get_logger("offerengine.auth.login")
BUSY_SECONDS = 1.0  # the wait a login refused for want of a free password check is told


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """Who tries to log in, from where: ``account`` is the email's keyed digest (what the
    throttle counts by), ``address`` the client's address behind any trusted proxies."""

    email: str
    password: str
    account: str
    address: str


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """The user logged in; or None, with ``retry_after`` > 0 when the password was not even
    checked (too many failures, or the worker was busy) and the caller should wait."""

    user: User | None
    retry_after: float = 0.0
    busy: bool = False  # refused because the worker had too many password checks waiting


async def log_in(
    sessions: Sessions, *, guard: LoginGuard, passwords: Passwords, attempt: LoginAttempt
) -> LoginOutcome:
    """Log in under the throttle: the user if the password is hers, her login recorded (the
    time, a password hash renewed)."""
    allowed = await guard.attempt(attempt.account, attempt.address)
    if allowed.wait > 0:
        _log_failure("login_refused", attempt, retry_after=round(allowed.wait, 1))
        return LoginOutcome(None, allowed.wait)
    if allowed.slow > 0:
        await asyncio.sleep(allowed.slow)  # an account under attack from many addresses
    try:
        user = await _checked(sessions, passwords, attempt)
    except PasswordsBusy:
        await guard.unchecked(allowed)
        _log_failure("login_refused", attempt, retry_after=BUSY_SECONDS, reason="busy")
        return LoginOutcome(None, BUSY_SECONDS, busy=True)
    if user is None:
        _log_failure("login_failed", attempt)
        return LoginOutcome(None)
    await guard.succeeded(allowed)
    changes = await users.login_changes(user, attempt.password, passwords)
    # A transaction of its own, SQLite's write lock taken up front: concurrent logins queue.
    async with write_transaction(sessions) as session:
        await users.record_login(session, user, changes)
    return LoginOutcome(user)


async def _checked(sessions: Sessions, passwords: Passwords, attempt: LoginAttempt) -> User | None:
    """The user whose password ``attempt`` carries, or None (the same work when there is no
    such user)."""
    async with sessions.session_factory() as session:
        user = await users.find_login(session, attempt.email)
    matches = await passwords.check(
        user.password_hash if user else None, attempt.password, by=attempt.address
    )
    return user if matches else None


def _log_failure(event: str, attempt: LoginAttempt, **fields: object) -> None:
    log.warning(
        event,
        account=redaction.identifier(users.normal_email(attempt.email)),
        address=attempt.address,
        **fields,
    )


async def log_out(sessions: Sessions, user_id: uuid.UUID) -> None:
    """End every session of the user."""
    async with write_transaction(sessions) as session:
        await users.log_out(session, user_id)


async def visitor(sessions: Sessions, data: SessionData) -> users.Visitor | None:
    """The visitor of a session cookie's data, or None if that session has ended."""
    async with sessions.session_factory() as session:
        return await users.visitor(session, data)
