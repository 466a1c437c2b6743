"""The admin UI's pure pieces: the session codec, passwords, and how a rule's
condition and adjustment read on the rules list."""

from __future__ import annotations

import uuid

from offerengine.auth.sessions import (
    SessionCodec,
    SessionData,
    check_password,
    hash_password,
    password_problem,
)
from offerengine.web.pages.pricing import readable_adjustment, readable_conditions


def test_a_session_reads_back_and_a_forgery_does_not() -> None:
    codec = SessionCodec("secret one", max_age_seconds=3600)
    data = SessionData(uuid.uuid4(), uuid.uuid4(), "token", 3)
    cookie = codec.dump(data)
    assert codec.load(cookie) == data
    assert SessionCodec("another secret", 3600).load(cookie) is None
    # One character of the signature changed. Not the last: base64's last character may carry
    # unused bits, and a change to those alone changes nothing (it made this check flaky).
    i = len(cookie) - 5
    forged = cookie[:i] + ("A" if cookie[i] != "A" else "B") + cookie[i + 1 :]
    assert codec.load(forged) is None
    assert codec.load("") is None
    assert codec.load("not.a.cookie") is None
    # A login cookie is not a session, and the other way round (different salts).
    assert codec.load(codec.dump_login("t")) is None
    assert codec.load_login(cookie) is None


def test_an_old_session_is_over() -> None:
    cookie = SessionCodec("s", 3600).dump(SessionData(uuid.uuid4(), None, "t", 0))
    assert SessionCodec("s", max_age_seconds=-1).load(cookie) is None


def test_passwords() -> None:
    stored = hash_password("a long enough password")
    assert stored.startswith("$argon2id$")
    assert check_password(stored, "a long enough password")
    assert not check_password(stored, "a long enough passwort")
    assert not check_password(None, "anything")  # unknown user: false, after the same work
    assert not check_password("not a hash", "anything")
    assert password_problem("short") == "use at least 10 characters"
    assert password_problem("x" * 201) == "use at most 200 characters"
    assert password_problem("ten chars!") is None


def test_conditions_and_adjustments_read_as_sentences() -> None:
    assert readable_conditions({}) == "always"
    assert (
        readable_conditions(
            {"cabin_class": ["BUSINESS", "FIRST"], "days_until_departure": {"max": 7}}
        )
        == "cabin_class in BUSINESS, FIRST and days_until_departure ≤ 7"
    )
    assert (
        readable_conditions({"date_range": {"start": "2027-06-01", "end": "2027-08-31"}})
        == "departure_date from 2027-06-01 to 2027-08-31"
    )
    assert (
        readable_conditions({"any": [{"channel": "web"}, {"not": {"channel": "agent"}}]})
        == "(channel = web) or (not (channel = agent))"
    )
    assert readable_conditions({"expression": "utilization > 0.8"}) == "utilization > 0.8"
    assert (
        readable_adjustment(
            {"type": "MULTIPLIER", "formula": "1 + utilization", "max_multiplier": "3"}
        )
        == "price × (1 + utilization) (max 3)"
    )
    assert readable_adjustment({"type": "MULTIPLIER", "value": "1.5"}) == "price × 1.5"
    assert readable_adjustment({"type": "FIXED", "value": "-10.00"}) == "price + -10.00"
    assert (
        readable_adjustment({"type": "FORMULA", "formula": "base_price * 2"})
        == "price = base_price * 2"
    )


def test_an_account_tag_is_the_same_on_every_worker_and_names_no_email() -> None:
    tag = SessionCodec("secret one", 3600).account_tag("ann@example.com")
    assert tag == SessionCodec("secret one", 3600).account_tag("ann@example.com")
    assert tag != SessionCodec("secret two", 3600).account_tag("ann@example.com")
    assert tag != SessionCodec("secret one", 3600).account_tag("bob@example.com")
    assert "ann" not in tag
