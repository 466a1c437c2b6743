"""The one error tree of OfferEngine.

Domain code raises these; it never knows about HTTP. Any of them may carry field errors
``[{loc, msg}]`` naming the input at fault. ``offerengine.http.problems`` maps each class to a
status and an RFC 9457 problem document in one table.

    OfferEngineError
    ├── NotFound              an object does not exist, or belongs to another tenant
    ├── Conflict              the request collides with the current state (duplicate code …)
    │   └── StaleVersion      an If-Match / version precondition failed
    ├── Invalid               the input is wrong; carries field errors [{loc, msg}]
    │   ├── MalformedInput    the body cannot even be parsed (not JSON, not UTF-8)
    │   ├── PayloadTooLarge   the body is over the configured limit
    │   └── UnsupportedMedia  the body is in a format the route does not take
    ├── Unauthenticated       no key, or an unknown or revoked key
    ├── Forbidden             the key is valid but its role may not do this
    ├── Gone                  the object existed but has expired
    └── Unavailable           a dependency (database, Redis) is down
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field; ``loc`` is the path to it, as in pydantic."""

    loc: Loc
    msg: str
    type: str = "value_error"
    position: int | None = None  # 0-based character offset, for errors inside a rule's text

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"loc": list(self.loc), "msg": self.msg, "type": self.type}
        if self.position is not None:
            found["position"] = self.position
        return found

    def under(self, prefix: Loc) -> FieldError:
        """The same error, located under ``prefix`` (a rule's errors under the field holding it)."""
        return FieldError((*prefix, *self.loc), self.msg, self.type, self.position)


class OfferEngineError(Exception):
    """The root of every error OfferEngine raises on purpose."""

    code = "error"
    title = "Error"

    def __init__(self, detail: str, errors: Sequence[FieldError] = (), **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.extensions = extensions

    @classmethod
    def field(cls, loc: Loc, msg: str, type: str = "value_error") -> Self:
        """One field is wrong: the detail repeats the message with the field's path."""
        path = ".".join(str(part) for part in loc)
        return cls(f"{path}: {msg}", [FieldError(loc, msg, type)])

    @classmethod
    def of(cls, errors: Sequence[FieldError]) -> Self:
        """Several fields may be wrong: the detail names the first (and its position in a rule's
        text) and counts the rest; every one is in ``errors``."""
        first = errors[0]
        where = f" (at {first.position})" if first.position is not None else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return cls(f"{'.'.join(map(str, first.loc))}: {first.msg}{where}{more}", list(errors))


class NotFound(OfferEngineError):
    code = "not-found"
    title = "Not found"


class Conflict(OfferEngineError):
    code = "conflict"
    title = "Conflict"


class StaleVersion(Conflict):
    code = "stale-version"
    title = "Stale version"

    def __init__(self, detail: str, *, current_version: int) -> None:
        super().__init__(detail, current_version=current_version)
        self.current_version = current_version


class Invalid(OfferEngineError):
    code = "validation"
    title = "Invalid input"


class MalformedInput(Invalid):
    code = "malformed"
    title = "Malformed input"


class PayloadTooLarge(Invalid):
    code = "payload-too-large"
    title = "Payload too large"


class UnsupportedMedia(Invalid):
    code = "unsupported-media-type"
    title = "Unsupported media type"


class Unauthenticated(OfferEngineError):
    code = "unauthenticated"
    title = "Unauthenticated"


class Forbidden(OfferEngineError):
    code = "forbidden"
    title = "Forbidden"


class Gone(OfferEngineError):
    code = "gone"
    title = "Gone"


class Unavailable(OfferEngineError):
    code = "unavailable"
    title = "Service unavailable"


def raise_if_any(errors: Sequence[FieldError]) -> None:
    """Raise :class:`Invalid` carrying ``errors``, if there are any."""
    if errors:
        raise Invalid.of(errors)
