"""The decision offers' own screens: the library (every offer with its placements, collections,
priority and caps; a search of the name and filters by placement, collection and status) and
the editor of one offer (placements and collections picked by name, a content editor per
placement with a preview of what its channel shows, the eligibility rule, the caps).

The editor posts to the page, which saves through the JSON API as the visitor (``api_send``,
under ``If-Match`` of the version it edits), so the API's errors show at the fields they name.
An offer is in a collection by its tags (the collection picks offers by tags) or by the
collection's own list of offer ids: ticking a collection of tags gives the offer its tags
(all of them for a collection that matches all, the first otherwise), unticking one takes its
tags away; ticking a listed collection adds the offer to its list (a new version of the
collection). The generic document editor (``/admin/decision-offers/<id>``) stays as the
"Edit as JSON" fallback for the fields the screen leaves out (the attributes)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from offerengine.decisioning.schemas import MAX_CAPS
from offerengine.errors import Invalid
from offerengine.tenants.models import Tenant
from offerengine.web.pages.api_calls import api_send, field_errors, posted_form
from offerengine.web.pages.layout import PAGE, cursor_pager, not_found, render
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)
HOME = "/admin/decisioning/offers"
GENERIC = "/admin/decision-offers"  # the generic document editor: "Edit as JSON"
STATUSES = ("draft", "approved", "archived")
CAP_SCOPES = ("global", "profile")
CAP_EVENTS = ("decision", "impression", "click", "accept")
WINDOWS = ("lifetime", "calendar", "rolling")
UNITS = ("hour", "day", "week", "month")
MAX_SCAN = 20  # pages of 1000 offers a placement or collection filter reads at most


def _tenant_path(tenant: Tenant, kind: str) -> str:
    return f"/v1/admin/tenants/{tenant.code}/decisioning/{kind}"


async def _everything(request: Request, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every object the list at ``path`` gives (``MAX_SCAN`` pages of 1000 at most)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_SCAN):
        answer = await api_get(request, path, limit=1000, cursor=cursor, **params)
        found.extend(answer.listed())
        cursor = answer.data.get("next_cursor") if answer.ok else None
        if not cursor:
            break
    return found


def in_collection(offer: dict[str, Any], collection: dict[str, Any]) -> bool:
    """Whether the collection picks the offer: its list of ids names it, or (without a list)
    the offer has all (``match: all``) or any of its tags."""
    listed = collection.get("offer_ids")
    if listed is not None:
        return offer.get("id") is not None and str(offer["id"]) in {str(i) for i in listed}
    tags = set(collection.get("tags") or [])
    mine = set(offer.get("tags") or [])
    return tags <= mine if collection.get("match") == "all" else bool(tags & mine)


def caps_text(cap: dict[str, Any]) -> str:
    """A cap as people say it: ``2 decisions per profile a calendar day``."""
    window = cap.get("window") or {}
    kind = window.get("type", "lifetime")
    if kind == "lifetime":
        per = "ever"
    elif kind == "calendar":
        per = f"a calendar {window.get('unit')}"
    else:
        per = f"per {window.get('count') or 1} {window.get('unit')}(s), rolling"
    scope = "per profile" if cap.get("scope") == "profile" else "in all"
    return f"{cap.get('limit')} {cap.get('event', 'decision')}s {scope} {per}"


# --- the library -----------------------------------------------------------------------------


def _row(
    offer: dict[str, Any], placements: dict[str, dict[str, Any]], collections: list[dict[str, Any]]
) -> dict[str, Any]:
    reps = offer.get("representations") or []
    return {
        **offer,
        "placement_names": [
            placements.get(str(r["placement_id"]), {}).get("name", str(r["placement_id"]))
            for r in reps
        ],
        "collection_names": [c["name"] for c in collections if in_collection(offer, c)],
        "caps": [caps_text(c) for c in offer.get("capping") or []],
    }


def _choice(value: str, name: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid.field(("query", name), "not one of the choices") from None


@router.get(HOME)
async def offer_library(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    placement: Annotated[str, Query(max_length=40)] = "",
    collection: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The tenant's offers by name, searched and filtered; the placement and collection
    filters read every offer of the search, the others page through the API's list."""
    if status and status not in STATUSES:
        raise Invalid.field(("query", "status"), f"one of {', '.join(STATUSES)}")
    placement_id, collection_id = _choice(placement, "placement"), _choice(collection, "collection")
    placements = await _everything(request, _tenant_path(tenant, "placements"))
    collections = await _everything(request, _tenant_path(tenant, "collections"))
    by_id = {str(p["id"]): p for p in placements}
    query = {"q": q.strip() or None, "status": status or None}
    next_cursor: str | None = None
    problem: str | None = None
    if placement_id or collection_id:
        offers = await _everything(request, _tenant_path(tenant, "offers"), **query)
        chosen = next((c for c in collections if c["id"] == str(collection_id)), None)
        if collection_id and chosen is None:
            raise Invalid.field(("query", "collection"), "not one of the tenant's collections")
        offers = [
            o
            for o in offers
            if (
                not placement_id
                or any(str(r["placement_id"]) == str(placement_id) for r in o["representations"])
            )
            and (chosen is None or in_collection(o, chosen))
        ]
    else:
        found = await api_get(
            request, _tenant_path(tenant, "offers"), limit=PAGE, cursor=cursor, **query
        )
        offers, problem = found.listed(), found.problem
        next_cursor = found.data.get("next_cursor") if found.ok else None
    filters = {
        k: v
        for k, v in {
            "q": q,
            "status": status,
            "placement": placement,
            "collection": collection,
        }.items()
        if v
    }
    return await render(
        request,
        "decision_offers.html",
        visitor,
        tenant=tenant,
        offers=[_row(o, by_id, collections) for o in offers],
        placements=placements,
        collections=collections,
        statuses=STATUSES,
        filters=filters,
        problem=problem,
        **cursor_pager(filters, next_cursor, cursor),
    )


# --- the editor ------------------------------------------------------------------------------


@dataclass
class Draft:
    """What the editor shows: the offer document as edited, the contents as typed per
    placement, the caps' rows, and the collections ticked."""

    document: dict[str, Any]
    contents: dict[str, str]  # placement id → the content's JSON as typed
    cap_rows: list[dict[str, Any]]
    collections: set[str]
    eligibility: str
    errors: dict[str, str] = field(default_factory=dict)


def _cap_row(cap: dict[str, Any] | None) -> dict[str, Any]:
    cap = cap or {}
    window = cap.get("window") or {}
    return {
        "scope": cap.get("scope", ""),
        "limit": "" if cap.get("limit") is None else str(cap["limit"]),
        "event": cap.get("event", "decision"),
        "window": window.get("type", "lifetime"),
        "unit": window.get("unit") or "",
        "count": "" if window.get("count") is None else str(window["count"]),
        "timezone": cap.get("timezone", "UTC"),
    }


def stored_draft(item: dict[str, Any] | None, collections: list[dict[str, Any]]) -> Draft:
    """The draft of a stored offer, or of a new one (``item`` None)."""
    item = item or {}
    document = {
        "name": item.get("name", ""),
        "status": item.get("status", "draft"),
        "priority": item.get("priority", 0),
        "start": item.get("start"),
        "end": item.get("end"),
        "tags": item.get("tags", []),
        "value": item.get("value"),
        "cost": item.get("cost"),
        "attributes": item.get("attributes", {}),
        "representations": item.get("representations", []),
        "capping": item.get("capping", []),
        "eligibility": item.get("eligibility"),
    }
    rule = document["eligibility"]
    return Draft(
        document=document,
        contents={
            str(r["placement_id"]): json.dumps(r["content"], indent=2, ensure_ascii=False)
            for r in document["representations"]
        },
        cap_rows=[_cap_row(c) for c in document["capping"]],
        collections={c["id"] for c in collections if item and in_collection(item, c)},
        eligibility=(
            ""
            if rule is None
            else rule
            if isinstance(rule, str)
            else json.dumps(rule, indent=2, ensure_ascii=False)
        ),
    )


def _blank(value: str) -> str | None:
    value = value.strip()
    return value or None


def posted_draft(
    form: FormData,
    stored: dict[str, Any] | None,
    placements: list[dict[str, Any]],
    collections: list[dict[str, Any]],
) -> tuple[Draft, list[int], list[str]]:
    """The draft the form posted, the form's cap row of each cap sent and the placement of
    each representation sent (to put the API's errors at their rows). Content that is not a
    JSON object, and a JSON eligibility that does not parse, are errors of their own."""
    text = {k: str(v) for k, v in form.multi_items() if k not in ("placement", "collection")}
    errors: dict[str, str] = {}
    picked = {str(v) for v in form.getlist("placement")}
    contents = {str(p["id"]): text.get(f"content-{p['id']}", "{}") for p in placements}
    representations: list[dict[str, Any]] = []
    rep_placements: list[str] = []
    for p in placements:  # in the placements' order, those ticked
        pid = str(p["id"])
        if pid not in picked:
            continue
        try:
            content = json.loads(contents[pid] or "{}")
        except ValueError as error:
            errors[f"content-{pid}"] = f"not JSON: {error}"
            continue
        if not isinstance(content, dict):
            errors[f"content-{pid}"] = "a JSON object: the fields the channel shows"
            continue
        representations.append({"placement_id": pid, "content": content})
        rep_placements.append(pid)
    rows: list[dict[str, Any]] = []
    caps: list[dict[str, Any]] = []
    cap_rows: list[int] = []
    for index in range(MAX_CAPS):
        row = {k: text.get(f"cap-{index}-{k}", "") for k in _cap_row(None)}
        if f"cap-{index}-scope" not in text:
            break
        rows.append(row)
        if not row["scope"]:  # the blank row: no cap
            continue
        window: dict[str, Any] = {"type": row["window"] or "lifetime"}
        if row["unit"]:
            window["unit"] = row["unit"]
        if row["count"].strip():
            window["count"] = row["count"].strip()
        caps.append(
            {
                "scope": row["scope"],
                "limit": row["limit"].strip(),
                "event": row["event"] or "decision",
                "window": window,
                "timezone": row["timezone"].strip() or "UTC",
            }
        )
        cap_rows.append(index)
    eligibility = text.get("eligibility", "").strip()
    rule: Any = eligibility or None
    if eligibility.startswith("{"):
        try:
            rule = json.loads(eligibility)
        except ValueError as error:
            errors["eligibility"] = f"a JSON condition that does not parse: {error}"
    document = {
        "name": text.get("name", ""),
        "status": text.get("status", "draft"),
        "priority": text.get("priority", "").strip() or 0,
        "start": _blank(text.get("start", "")),
        "end": _blank(text.get("end", "")),
        "tags": [t.strip() for t in text.get("tags", "").split(",") if t.strip()],
        "value": _blank(text.get("value", "")),
        "cost": _blank(text.get("cost", "")),
        "attributes": (stored or {}).get("attributes", {}),
        "representations": representations,
        "capping": caps,
        "eligibility": rule,
    }
    ticked = {str(v) for v in form.getlist("collection")}
    tags = list(document["tags"])
    # Tag collections: unticking one takes its tags away, then ticking one gives its tags (so
    # where collections share tags, the ticked one keeps them).
    by_tags = [c for c in collections if c.get("offer_ids") is None]
    for c in by_tags:
        if c["id"] not in ticked and in_collection({"tags": tags}, c):
            tags = [t for t in tags if t not in c["tags"]]
    for c in by_tags:
        if c["id"] in ticked and not in_collection({"tags": tags}, c):
            wanted = c["tags"] if c.get("match") == "all" else c["tags"][:1]
            tags += [t for t in wanted if t not in tags]
    document["tags"] = tags
    draft = Draft(
        document=document,
        contents=contents,
        cap_rows=rows,
        collections=ticked,
        eligibility=eligibility,
        errors=errors,
    )
    return draft, cap_rows, rep_placements


def placed_errors(
    errors: dict[str, str], cap_rows: list[int], rep_placements: list[str]
) -> dict[str, str]:
    """The API's errors keyed by the form's fields: a representation's at its placement's
    content, a cap's at its row's field (``cap-<row>-<field>``)."""
    placed: dict[str, str] = {}
    for key, message in errors.items():
        parts = key.split(".")
        target = key
        if parts[0] == "representations" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(rep_placements):
                target = f"content-{rep_placements[index]}"
        elif parts[0] == "capping" and len(parts) > 2 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(cap_rows):
                target = f"cap-{cap_rows[index]}-{parts[2]}"
        elif parts[0] in ("capping", "representations"):
            target = parts[0]
        placed[target] = f"{placed[target]}; {message}" if target in placed else message
    return placed


def previews(draft: Draft, placements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each picked placement's channel shows of the content as edited: HTML for an html
    placement (shown in a sandboxed frame), the text of a text placement, the JSON otherwise."""
    picked = {str(r["placement_id"]) for r in draft.document["representations"]}
    shown: list[dict[str, Any]] = []
    for p in placements:
        pid = str(p["id"])
        if pid not in picked:
            continue
        content = next(
            r["content"] for r in draft.document["representations"] if str(r["placement_id"]) == pid
        )
        kind = p.get("content_type")
        preview: dict[str, Any] = {"placement": p, "kind": kind}
        if kind == "html":
            preview["html"] = str(content.get("html") or "")
            preview["subject"] = content.get("subject")
        elif kind == "text":
            preview["text"] = str(content.get("text") or "")
        else:
            preview["json"] = json.dumps(content, indent=2, ensure_ascii=False)
        shown.append(preview)
    return shown


async def _editor(
    request: Request,
    visitor: Visitor,
    tenant: Tenant,
    item: dict[str, Any] | None,
    draft: Draft | None = None,
    *,
    problem: str | None = None,
    conflict: str | None = None,
    status_code: int = 200,
) -> Response:
    placements = await _everything(request, _tenant_path(tenant, "placements"))
    collections = await _everything(request, _tenant_path(tenant, "collections"))
    draft = draft or stored_draft(item, collections)
    saved = request.query_params.get("saved")
    response = await render(
        request,
        "decision_offer_form.html",
        visitor,
        tenant=tenant,
        item=item,
        draft=draft,
        doc=draft.document,
        errors=draft.errors,
        picked={str(r["placement_id"]) for r in draft.document["representations"]}
        | {k[len("content-") :] for k in draft.errors if k.startswith("content-")},
        placements=placements,
        collections=collections,
        cap_rows=[*draft.cap_rows, _cap_row(None)][:MAX_CAPS],
        previews=previews(draft, placements),
        statuses=STATUSES,
        scopes=CAP_SCOPES,
        events=CAP_EVENTS,
        windows=WINDOWS,
        units=UNITS,
        saved=saved if saved and saved.isdigit() else None,
        problem=problem,
        conflict=conflict,
        home=HOME,
        generic=GENERIC,
    )
    response.status_code = status_code
    return response


async def _with_offer(
    request: Request,
    visitor: Visitor,
    tenant: Tenant,
    offer_id: uuid.UUID,
    then: Callable[[Request, Visitor, Tenant, dict[str, Any]], Awaitable[Response]],
) -> Response:
    """THEN with the stored offer, read through the API; the 404 page with its reason if none."""
    found = await api_get(request, f"/v1/admin/decisioning/offers/{offer_id}")
    if not found.ok:
        return await not_found(request, visitor, tenant, found.detail or f"No offer {offer_id}.")
    return await then(request, visitor, tenant, found.data)


@router.get(f"{HOME}/new")
async def new_offer(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    return await _editor(request, visitor, tenant, None)


@router.get(HOME + "/{offer_id:uuid}")
async def edit_offer(
    request: Request, visitor: Visitor, tenant: PageTenant, offer_id: uuid.UUID
) -> Response:
    return await _with_offer(request, visitor, tenant, offer_id, _editor)


@router.post(f"{HOME}/new")
async def create_offer(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    return await _save(request, visitor, tenant, None)


@router.post(HOME + "/{offer_id:uuid}")
async def save_offer(
    request: Request, visitor: Visitor, tenant: PageTenant, offer_id: uuid.UUID
) -> Response:
    return await _with_offer(request, visitor, tenant, offer_id, _save)


async def _save(
    request: Request, visitor: Visitor, tenant: Tenant, item: dict[str, Any] | None
) -> Response:
    """The posted offer previewed (``action=preview``) or saved: a new offer created, a stored
    one saved as a new version of the version the form edits; then the listed collections
    ticked or unticked given the offer or rid of it."""
    form = await posted_form(request, visitor, max_fields=400)
    placements = await _everything(request, _tenant_path(tenant, "placements"))
    collections = await _everything(request, _tenant_path(tenant, "collections"))
    draft, cap_rows, rep_placements = posted_draft(form, item, placements, collections)
    shown = dict(item or {})
    based_on = str(form.get("version") or "")
    if item is not None:
        if not based_on.isdigit():  # never saved unguarded: the form names its version
            draft.errors[""] = "version: missing; open the offer again"
            return await _editor(
                request, visitor, tenant, item, draft, problem="No version.", status_code=422
            )
        shown["version"] = int(based_on)
    if form.get("action") == "preview" or draft.errors:
        return await _editor(
            request,
            visitor,
            tenant,
            shown or None,
            draft,
            problem="Fix the fields marked below." if draft.errors else None,
            status_code=422 if draft.errors else 200,
        )
    if item is None:
        answer = await api_send(
            request, visitor, "POST", _tenant_path(tenant, "offers"), draft.document
        )
    else:
        answer = await api_send(
            request,
            visitor,
            "PUT",
            f"/v1/admin/decisioning/offers/{item['id']}",
            draft.document,
            if_match=int(based_on),
        )
    if not answer.ok:
        if answer.status in (409, 412):
            return await _editor(
                request,
                visitor,
                tenant,
                shown,
                draft,
                conflict=(
                    f"Someone saved this offer since you opened it: it is now version "
                    f"{item and item.get('version')}, you edited version {based_on}. Your "
                    "changes are below, not saved; open the offer again to see theirs."
                ),
                problem=answer.detail,
                status_code=409,
            )
        draft.errors = placed_errors(field_errors(answer), cap_rows, rep_placements)
        return await _editor(
            request,
            visitor,
            tenant,
            shown or None,
            draft,
            problem=(
                "The API refused the offer: fix the fields marked below."
                if draft.errors and "" not in draft.errors
                else answer.detail or f"The API refused the offer ({answer.status})."
            ),
            status_code=answer.status if 400 <= answer.status < 500 else 502,
        )
    offer = answer.data
    refused = await _listed_collections(request, visitor, offer, collections, draft.collections)
    if refused:
        draft.errors["collection"] = refused
        return await _editor(
            request,
            visitor,
            tenant,
            offer,
            draft,
            problem=f"Saved version {offer['version']}, but not every collection was changed.",
            status_code=409,
        )
    return RedirectResponse(f"{HOME}/{offer['id']}?saved={offer['version']}", status_code=303)


async def _listed_collections(
    request: Request,
    visitor: Visitor,
    offer: dict[str, Any],
    collections: list[dict[str, Any]],
    ticked: set[str],
) -> str:
    """Each collection with a list of offers that the form ticks or unticks given a new
    version with the offer added or taken away; what the API refused, or "" if nothing."""
    refused: list[str] = []
    for c in collections:
        listed = c.get("offer_ids")
        if listed is None or (c["id"] in ticked) == in_collection(offer, c):
            continue
        ids = [i for i in listed if str(i) != str(offer["id"])]
        if c["id"] in ticked:
            ids.append(offer["id"])
        document = {
            "name": c["name"],
            "status": c["status"],
            "tags": c["tags"],
            "match": c["match"],
            "offer_ids": ids,
        }
        answer = await api_send(
            request,
            visitor,
            "PUT",
            f"/v1/admin/decisioning/collections/{c['id']}",
            document,
            if_match=c["version"],
        )
        if not answer.ok:
            refused.append(f"{c['name']}: {answer.detail or answer.status}")
    return "; ".join(refused)
