"""Admin UI sessions, passwords and login throttling. Pure: no database, no web framework.

A session is a cookie signed with the deployment's secret (itsdangerous, HMAC-SHA1 over a
timestamped payload): the user's id, the tenant she is working on, her CSRF token and the
user's session epoch when she logged in. Nothing is stored per session; logging out moves the
user's epoch, which ends every session signed before it.

CSRF: a request authenticated by the cookie that may change something (not GET/HEAD/OPTIONS)
must carry the session's token, in the ``X-CSRF-Token`` header (the UI's fetch calls) or the
``csrf_token`` form field (plain forms). The cookie is also ``SameSite=Lax``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "oe_session"
LOGIN_COOKIE = "oe_login"  # carries the login form's CSRF token before there is a session
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
MIN_PASSWORD = 10

_hasher = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory)
# Verified against when the email is unknown, so that a wrong email costs what a wrong password does.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (unknown user) it still spends the same time."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


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

    def load_login(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return str(self._logins.loads(cookie, max_age=3600))
        except BadSignature:
            return None


class LoginThrottle:
    """At most ``attempts`` failed logins per key (an email, a client address) in ``window``
    seconds; then the key waits until its oldest failure leaves the window. Per worker."""

    def __init__(
        self,
        attempts: int = 5,
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        found = self._failures.get(key)
        if found is None:
            return deque()
        horizon = self._clock() - self.window
        while found and found[0] <= horizon:
            found.popleft()
        if not found:
            del self._failures[key]
        return found

    def wait_seconds(self, *keys: str) -> float:
        """How long until another attempt may be made for all of ``keys`` (0: now)."""
        wait = 0.0
        for key in keys:
            recent = self._recent(key)
            if len(recent) >= self.attempts:
                wait = max(wait, recent[0] + self.window - self._clock())
        return wait

    def failed(self, *keys: str) -> None:
        if len(self._failures) >= self._max_keys:
            self._failures.clear()  # a flood of distinct keys: forget rather than grow without bound
        now = self._clock()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
