"""The decision offers' own screens (issue 34): the library lists the demo airline's offers
with their placements, collections and caps, searched by name and filtered by placement,
collection and status; the editor makes an offer with placements and collections picked from
its pickers, saves a new version under If-Match, refuses a stale one, shows the API's errors
at the fields they name and previews each placement's content as its channel shows it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.settings import Settings
from tests.e2e._admin import demo_with_people, logged_in

HOME = "/admin/decisioning/offers"


@pytest.fixture(scope="module")
def demo_settings(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return demo_with_people(
        sqlite_template,
        tmp_path_factory.mktemp("offer-screens"),
        [("OE", "own@oe.example", "owner"), ("OE", "see@oe.example", "viewer")],
    )


@pytest.fixture(scope="module")
def owner(demo_settings: Settings) -> Iterator[TestClient]:
    client = logged_in(demo_settings, "own@oe.example")
    yield client
    client.__exit__(None, None, None)


def _csrf(client: TestClient) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/admin").text)
    assert found
    return found.group(1)


def _listed(client: TestClient, path: str) -> list[dict[str, Any]]:
    found = client.get(path, params={"limit": 1000})
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def _by_name(client: TestClient, kind: str) -> dict[str, dict[str, Any]]:
    return {o["name"]: o for o in _listed(client, f"/v1/admin/tenants/OE/decisioning/{kind}")}


def _names(page: str) -> list[str]:
    return [
        html.unescape(n)
        for n in re.findall(
            r'<td><a href="/admin/decisioning/offers/[0-9a-f-]{36}">([^<]+)</a>', page
        )
    ]


def _options(page: str, select: str) -> dict[str, str]:
    """A select's options of PAGE: the label of each value (an id), as the picker offers them."""
    block = re.search(rf'<select id="{select}" name="{select}">(.*?)</select>', page, re.S)
    assert block, select
    return {
        v: html.unescape(label)
        for v, label in re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)', block.group(1))
    }


def _pickers(page: str, name: str) -> dict[str, str]:
    """The checkboxes NAME of the editor: the label of each id."""
    return {
        v: html.unescape(label).strip()
        for v, label in re.findall(
            rf'<input type="checkbox" id="[pc]-[0-9a-f-]{{36}}" name="{name}" value="([0-9a-f-]{{36}})"[^>]*><label[^>]*>([^<]+)',
            page,
        )
    }


def _form(page: str) -> dict[str, str]:
    """The editor's hidden fields (its CSRF token and version) as it posts them."""
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page))


def test_the_menu_leads_to_the_library_which_lists_every_offer(owner: TestClient) -> None:
    page = owner.get(HOME)
    assert page.status_code == 200, page.text
    assert '<a href="/admin/decisioning/offers" aria-current="page">Offers</a>' in page.text
    offers = _by_name(owner, "offers")
    names = _names(page.text)
    assert len(names) == 25  # a page of 25
    assert set(names) <= set(offers)
    second = owner.get(
        HOME + re.search(r'href="(\?cursor=[^"]+)"', page.text).group(1).replace("&amp;", "&")
    )
    assert set(_names(second.text)) == set(offers) - set(names)
    row = re.search(
        r'<tr data-offer="[^"]+">\s*<td><a[^>]*>Business class upgrade</a>.*?</tr>',
        page.text + second.text,
        re.S,
    )
    assert row, "the upgrade offer is listed"
    text = html.unescape(row.group(0))
    for collection in ("Upgrades", "Premium picks", "Everything"):  # its collections
        assert collection in text
    assert "2 decisions per profile a calendar day" in text  # its cap
    assert "Web home hero" in text  # a placement
    # The generic pages of offers belong to the same menu entry.
    generic = owner.get("/admin/decision-offers").text
    assert '<a href="/admin/decisioning/offers" aria-current="page">Offers</a>' in generic


def test_search_and_filters_narrow_the_library(owner: TestClient) -> None:
    offers = _by_name(owner, "offers")
    page = owner.get(HOME).text
    placements = {label: v for v, label in _options(page, "placement").items()}
    collections = {label: v for v, label in _options(page, "collection").items()}
    found = _names(owner.get(HOME, params={"q": "lounge"}).text)
    assert sorted(found) == sorted(n for n in offers if "lounge" in n.lower())
    upgrades = _names(owner.get(HOME, params={"collection": collections["Upgrades"]}).text)
    assert sorted(upgrades) == sorted(n for n, o in offers.items() if "upgrade" in o["tags"])
    agent = placements["Agent desktop"]
    on_agent = _names(owner.get(HOME, params={"placement": agent}).text)
    assert sorted(on_agent) == sorted(
        n
        for n, o in offers.items()
        if any(r["placement_id"] == agent for r in o["representations"])
    )
    both = _names(
        owner.get(
            HOME, params={"placement": agent, "collection": collections["Upgrades"], "q": "class"}
        ).text
    )
    assert sorted(both) == sorted(n for n in upgrades if n in on_agent and "class" in n.lower())
    assert _names(owner.get(HOME, params={"status": "archived"}).text) == [
        n for n, o in offers.items() if o["status"] == "archived"
    ]
    for bad in ({"status": "lost"}, {"placement": "nope"}):
        refused = owner.get(HOME, params=bad)
        assert refused.status_code == 422, refused.text
        assert list(bad) == [refused.json()["errors"][0]["loc"][-1]]


def test_an_offer_is_made_from_the_pickers_then_edited_under_its_version(
    owner: TestClient,
) -> None:
    new = owner.get(HOME + "/new").text
    assert "<h1>New offer" in new
    placements = {
        label.split("  ")[0].strip(): v for v, label in _pickers(new, "placement").items()
    }
    collections = {label.strip(): v for v, label in _pickers(new, "collection").items()}
    assert {"Web home hero", "Booking confirmation", "Email", "Agent desktop"} <= set(placements)
    confirmation, agent = placements["Booking confirmation"], placements["Agent desktop"]
    posted = {
        **_form(new),
        "action": "save",
        "name": "Seat upgrade bundle",
        "status": "approved",
        "priority": "77",
        "tags": "bundle",
        "value": "49.50",
        "cost": "",
        "start": "",
        "end": "",
        "eligibility": "profile.tier == 'GOLD'",
        "placement": [confirmation, agent],
        f"content-{confirmation}": '{"html": "<b>Seats</b> for less"}',
        f"content-{agent}": '{"text": "Offer the seat bundle"}',
        "collection": [collections["Upgrades"]],
        "cap-0-scope": "profile",
        "cap-0-limit": "3",
        "cap-0-event": "impression",
        "cap-0-window": "rolling",
        "cap-0-unit": "day",
        "cap-0-count": "7",
        "cap-0-timezone": "Europe/Paris",
    }
    made = owner.post(HOME + "/new", data=posted, follow_redirects=False)
    assert made.status_code == 303, made.text
    assert re.fullmatch(rf"{HOME}/[0-9a-f-]{{36}}\?saved=1", made.headers["location"])
    offer = _by_name(owner, "offers")["Seat upgrade bundle"]
    assert (offer["priority"], offer["status"], offer["value"]) == (77, "approved", "49.50")
    assert sorted(offer["tags"]) == ["bundle", "upgrade"]  # picked into Upgrades by its tag
    assert {r["placement_id"]: r["content"] for r in offer["representations"]} == {
        confirmation: {"html": "<b>Seats</b> for less"},
        agent: {"text": "Offer the seat bundle"},
    }
    assert offer["capping"] == [
        {
            "scope": "profile",
            "limit": 3,
            "event": "impression",
            "window": {"type": "rolling", "unit": "day", "count": 7},
            "timezone": "Europe/Paris",
        }
    ]
    page = owner.get(made.headers["location"]).text
    assert 'id="saved">Saved: version 1.' in page
    assert "offer · version 1" in page
    # Each placement previewed as its channel shows it: the HTML sandboxed, the text escaped.
    assert '<iframe sandbox="" srcdoc="&lt;b&gt;Seats&lt;/b&gt; for less"' in page
    assert '<p class="preview-text">Offer the seat bundle</p>' in page
    assert f'href="/admin/decision-offers/{offer["id"]}">Edit as JSON' in page
    assert (
        f'id="c-{collections["Upgrades"]}" name="collection" value="{collections["Upgrades"]}" checked'
        in page
    )
    # Edited under version 1: the Upgrades tick taken away, Partners ticked.
    edit = {**posted, **_form(page), "collection": [collections["Partners"]], "priority": "5"}
    saved = owner.post(f"{HOME}/{offer['id']}", data=edit, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith("?saved=2")
    again = _by_name(owner, "offers")["Seat upgrade bundle"]
    assert (again["version"], again["priority"], sorted(again["tags"])) == (
        2,
        5,
        ["bundle", "hotel"],
    )
    # The same form again (still based on version 1) is refused, not saved over version 2.
    stale = owner.post(
        f"{HOME}/{offer['id']}", data={**edit, "priority": "6"}, follow_redirects=False
    )
    assert stale.status_code == 409, stale.text
    assert 'id="conflict"' in stale.text
    assert "you edited version 1" in stale.text
    assert 'value="6"' in stale.text  # the changes kept on the page
    assert _by_name(owner, "offers")["Seat upgrade bundle"]["priority"] == 5


def test_a_listed_collection_gets_the_offer_added_and_taken_away(owner: TestClient) -> None:
    headers = {"X-CSRF-Token": _csrf(owner)}
    listed = owner.post(
        "/v1/admin/tenants/OE/decisioning/collections",
        json={"name": "Hand-picked", "offer_ids": []},
        headers=headers,
    )
    assert listed.status_code == 201, listed.text
    collection = listed.json()
    new = owner.get(HOME + "/new").text
    made = owner.post(
        HOME + "/new",
        data={
            **_form(new),
            "action": "save",
            "name": "Picked by hand",
            "priority": "1",
            "collection": [collection["id"]],
            "cap-0-scope": "",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    offer = _by_name(owner, "offers")["Picked by hand"]
    assert _by_name(owner, "collections")["Hand-picked"]["offer_ids"] == [offer["id"]]
    page = owner.get(f"{HOME}/{offer['id']}").text
    dropped = owner.post(
        f"{HOME}/{offer['id']}",
        data={**_form(page), "action": "save", "name": "Picked by hand", "priority": "1"},
        follow_redirects=False,
    )
    assert dropped.status_code == 303, dropped.text
    assert _by_name(owner, "collections")["Hand-picked"]["offer_ids"] == []


def test_errors_show_at_the_fields_they_name_and_preview_saves_nothing(owner: TestClient) -> None:
    new = owner.get(HOME + "/new").text
    placements = {
        label.split("  ")[0].strip(): v for v, label in _pickers(new, "placement").items()
    }
    hero, email = placements["Web home hero"], placements["Email"]
    base = {
        **_form(new),
        "name": "Broken offer",
        "priority": "3",
        "placement": [hero, email],
        f"content-{hero}": '{"headline": "Fly <more>"}',
        f"content-{email}": '{"subject": "Hi", "html": "<p onclick=\\"x()\\">Hello</p>"}',
        "cap-0-scope": "global",
        "cap-0-limit": "0",
        "cap-0-window": "lifetime",
    }
    # The schema's errors first (a cap's limit), then the rule's, each at its field.
    for changed, field in (
        ({"cap-0-limit": "0"}, "cap-0-limit"),
        ({"cap-0-limit": "2", "eligibility": "profile.tier =="}, "eligibility"),
    ):
        refused = owner.post(HOME + "/new", data={**base, **changed, "action": "save"})
        assert refused.status_code == 422, refused.text
        error = re.search(rf'data-error-for="{field}">([^<]+)</small>', refused.text)
        assert error, (field, refused.text[:3000])
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', refused.text), field
    assert "Broken offer" not in _by_name(owner, "offers")
    # A content that is not JSON is named at its placement, nothing sent.
    broken = owner.post(
        HOME + "/new",
        data={**base, "action": "save", f"content-{hero}": "{oops", "cap-0-limit": "2"},
    )
    assert broken.status_code == 422
    assert re.search(rf'data-error-for="content-{hero}">not JSON', broken.text)
    # Preview renders each channel's content and saves nothing.
    shown = owner.post(HOME + "/new", data={**base, "action": "preview", "cap-0-limit": "2"})
    assert shown.status_code == 200, shown.text
    assert "Broken offer" not in _by_name(owner, "offers")
    assert "&#34;headline&#34;: &#34;Fly &lt;more&gt;&#34;" in shown.text  # JSON, escaped
    assert 'srcdoc="&lt;p onclick=&#34;x()&#34;&gt;Hello&lt;/p&gt;"' in shown.text
    assert "<strong>Subject:</strong> Hi" in shown.text


def test_a_viewer_reads_but_cannot_save(demo_settings: Settings) -> None:
    client = logged_in(demo_settings, "see@oe.example")
    try:
        offers = _by_name(client, "offers")
        offer = offers["Extra bag 23 kg"]
        page = client.get(f"{HOME}/{offer['id']}")
        assert page.status_code == 200
        assert "Your role may read but not change offers." in page.text
        refused = client.post(
            f"{HOME}/{offer['id']}",
            data={**_form(page.text), "action": "save", "name": "Mine now", "priority": "1"},
            follow_redirects=False,
        )
        assert refused.status_code == 403, refused.text
        assert _by_name(client, "offers")["Extra bag 23 kg"]["version"] == offer["version"]
    finally:
        client.__exit__(None, None, None)
