"""Admin UI sessions and passwords. Pure: no database, no web framework.

A session is a cookie signed with the deployment's secret (itsdangerous, HMAC-SHA1 over a
timestamped payload): the user's id, the tenant she is working on, her CSRF token and the
user's session epoch when she logged in. Nothing is stored per session; logging out moves the
user's epoch, which ends every session signed before it.

CSRF: a request authenticated by the cookie that may change something (not GET/HEAD/OPTIONS)
must carry the session's token, in the ``X-CSRF-Token`` header (the UI's fetch calls) or the
``csrf_token`` form field (plain forms). The cookie is also ``SameSite=Lax``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "oe_session"
LOGIN_COOKIE = "oe_login"  # carries the login form's CSRF token before there is a session
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
MIN_PASSWORD = 10

_T = TypeVar("_T")
_hasher = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory)
# Verified against when the email is unknown, so that a wrong email costs what a wrong password does.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (unknown user) it still spends the same time."""
    return _verify(_hasher, password_hash, password)


def _verify(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    try:
        return hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordsBusy(Exception):
    """More password checks are waiting than a worker takes on: try again in a moment."""


class Passwords:
    """argon2, off the event loop: each check or hash runs on a worker thread (argon2 releases
    the GIL), at most ``concurrency`` at once so that the event loop keeps a core of its own,
    with at most ``queue`` more waiting; past that a check is refused (:class:`PasswordsBusy`)
    rather than queued behind a flood of bad logins. argon2 is slow on purpose, and on the
    event loop it stalled every other request of the worker while it ran.

    A check on behalf of someone (``by``: the client's address) waits behind at most one check
    of everyone else: while one of theirs is in flight or waiting, another is refused. A flood
    from a few addresses no longer queues ahead of the owner's login (she had waited 10–23 s
    behind 30 bad guesses); each flooding address is told to try again in a moment."""

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        concurrency: int | None = None,
        queue: int = 64,
    ) -> None:
        self._hasher = hasher or _hasher
        self._concurrency = concurrency or max(1, (os.cpu_count() or 2) // 2)
        self._slots = asyncio.Semaphore(self._concurrency)
        self._limit = self._concurrency + queue
        self._in_flight = 0
        self._checking: set[str] = set()  # whom a check is in flight or waiting for

    async def check(self, password_hash: str | None, password: str, *, by: str = "") -> bool:
        """Whether ``password`` matches ``password_hash`` (None: an unknown user, same cost);
        with ``by``, refused while another check of ``by`` is in flight or waiting."""
        verify = partial(_verify, self._hasher, password_hash, password)
        if not by:
            return await self._run(verify)
        if by in self._checking:
            raise PasswordsBusy
        self._checking.add(by)
        try:
            return await self._run(verify)
        finally:
            self._checking.discard(by)

    async def hash(self, password: str) -> str:
        return await self._run(partial(self._hasher.hash, password))

    async def _run(self, work: Callable[[], _T]) -> _T:
        if self._in_flight >= self._limit:
            raise PasswordsBusy
        self._in_flight += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work)
        finally:
            self._in_flight -= 1


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return f"use at least {MIN_PASSWORD} characters"
    if len(password) > 200:
        return "use at most 200 characters"
    return None


def new_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class SessionData:
    user_id: uuid.UUID
    tenant_id: uuid.UUID | None  # the tenant being worked on (a platform user may switch)
    csrf: str
    epoch: int


class SessionCodec:
    """Signs and reads session and login-form cookies."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._sessions = URLSafeTimedSerializer(secret, salt="offerengine.admin.session")
        self._logins = URLSafeTimedSerializer(secret, salt="offerengine.admin.login")
        self._tag_key = hmac.new(secret.encode(), b"offerengine.admin.accounts", "sha256").digest()
        self.max_age_seconds = max_age_seconds

    def dump(self, data: SessionData) -> str:
        tenant = data.tenant_id.hex if data.tenant_id else None
        return self._sessions.dumps([data.user_id.hex, tenant, data.csrf, data.epoch])

    def load(self, cookie: str | None) -> SessionData | None:
        """The session in ``cookie``, or None if it is missing, forged, malformed or too old."""
        if not cookie:
            return None
        try:
            user, tenant, csrf, epoch = self._sessions.loads(cookie, max_age=self.max_age_seconds)
            return SessionData(
                uuid.UUID(user), uuid.UUID(tenant) if tenant else None, str(csrf), int(epoch)
            )
        except (BadSignature, ValueError, TypeError):
            return None

    def dump_login(self, token: str) -> str:
        return self._logins.dumps(token)

    def account_tag(self, email: str) -> str:
        """A keyed digest of a (normalised) email, the same on every worker: what the login
        throttle counts by, so that neither Redis nor the logs hold the address."""
        digest = hmac.new(self._tag_key, email.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def load_login(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return str(self._logins.loads(cookie, max_age=3600))
        except BadSignature:
            return None
