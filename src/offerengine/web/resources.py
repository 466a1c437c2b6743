"""The configuration kinds the admin UI lists and edits as their API documents, and the in-process
call that reads them through the API itself.

A page reads what it shows with a GET of the JSON API, made in process (the ASGI app called
directly, with the visitor's session cookie): the tenant check, the fields and their formatting are
the API's own, and nothing is read twice in two ways. Forms write through the same API from the
browser. The editors show each object as its API input document, so every field the API takes can
be edited, with the API's errors shown next to the document at the path they name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel
from starlette.requests import Request
from starlette.types import Message

from offerengine.auth.sessions import SESSION_COOKIE
from offerengine.bundles.schemas import BundleIn
from offerengine.campaigns.schemas import CampaignIn
from offerengine.commerce import schemas as commerce
from offerengine.decisioning import schemas as decisioning
from offerengine.experiments.schemas import ExperimentIn
from offerengine.flags.schemas import FeatureFlagIn
from offerengine.inventory.schemas import InventoryRuleIn
from offerengine.loyalty.schemas import ProgrammeIn


@dataclass(frozen=True, slots=True)
class Resource:
    slug: str  # the page: /admin/<slug>
    title: str  # plural, for headings
    one: str  # singular
    history: str  # the versioning kind, for /admin/history/<history>/<id>
    collection: str  # API collection, with {tenant}
    item: str  # API item, with {id}
    schema: type[BaseModel]  # the API's input document
    columns: tuple[str, ...]  # fields of the read document shown in the list
    # A new object's document: choices with a sensible default, never a name, key or code
    # (those a person types: a form saved untouched is refused naming them, not a junk object).
    starter: dict[str, Any] = field(default_factory=dict)
    help: str = ""

    def input_of(self, read: dict[str, Any]) -> dict[str, Any]:
        """The editable document of a read object: the input model's fields, in its order."""
        return {name: read[name] for name in self.schema.model_fields if name in read}


def _decisioning(
    slug: str, path: str, title: str, one: str, history: str, schema: type[BaseModel], **kw: Any
) -> Resource:
    return Resource(
        slug,
        title,
        one,
        history,
        f"/v1/admin/tenants/{{tenant}}/decisioning/{path}",
        f"/v1/admin/decisioning/{path}/{{id}}",
        schema,
        **kw,
    )


RESOURCES: dict[str, Resource] = {
    r.slug: r
    for r in (
        Resource(
            "bundles",
            "Bundle templates",
            "bundle template",
            "bundle_template",
            "/v1/admin/tenants/{tenant}/bundles",
            "/v1/admin/bundles/{id}",
            BundleIn,
            ("bundle_name", "bundle_type", "discount_percentage", "priority", "is_active"),
            starter={
                "bundle_type": "COMFORT",
                "product_types": [
                    {"type": "FLIGHT", "required": True},
                    {"type": "SEAT", "category": "EXTRA_LEGROOM", "required": False},
                ],
                "discount_percentage": "10",
                "priority": 10,
                "is_active": False,
            },
            help="Seed 001's bundle templates: product types, a discount on the bundled extras "
            "(never on the flight), priority. Preview a template's offers before you switch it on.",
        ),
        Resource(
            "inventory-rules",
            "Inventory rules",
            "inventory rule",
            "inventory_rule",
            "/v1/admin/tenants/{tenant}/inventory-rules",
            "/v1/admin/inventory-rules/{id}",
            InventoryRuleIn,
            (
                "resource_type",
                "resource",
                "hold_duration_seconds",
                "overbooking_percentage",
                "min_availability_threshold",
                "is_active",
            ),
            starter={
                "resource_type": "SEAT",
                "hold_duration_seconds": 900,
                "overbooking_percentage": "0",
                "min_availability_threshold": 5,
                "release_policy": {"auto_release_on_expiry": True, "notify_on_low_inventory": True},
            },
            help="Hold time, overbooking and the low-stock threshold per resource type.",
        ),
        Resource(
            "loyalty-programmes",
            "Loyalty programmes",
            "loyalty programme",
            "loyalty_programme",
            "/v1/admin/tenants/{tenant}/loyalty/programmes",
            "/v1/admin/loyalty/programmes/{id}",
            ProgrammeIn,
            ("code", "name", "currency", "expiry_months", "is_active"),
            starter={
                "currency": "USD",
                "tiers": [{"benefits": {"free_bags": 1, "seat_choice": True}}],
                "earn_rules": [{"product_type": "FLIGHT", "points_per_unit": "5"}],
                "point_values": [{"currency": "USD", "value": "0.01"}],
                "expiry_months": 24,
            },
            help="Tiers and their benefits, earn rules, a point's value per currency and expiry; "
            "members and their ledgers on the Loyalty members page.",
        ),
        _decisioning(
            "placements",
            "placements",
            "Placements",
            "placement",
            "placement",
            decisioning.PlacementIn,
            columns=("name", "channel", "content_type", "status"),
            starter={"channel": "web", "content_type": "html"},
        ),
        _decisioning(
            "decision-offers",
            "offers",
            "Decision offers",
            "offer",
            "decision_offer",
            decisioning.OfferIn,
            columns=("name", "priority", "status", "start", "end"),
            starter={
                "priority": 10,
                "representations": [],
                "eligibility": None,
                "capping": [],
            },
            help="Offers with their representations per placement, eligibility rule and caps.",
        ),
        _decisioning(
            "fallback-offers",
            "fallback-offers",
            "Fallback offers",
            "fallback offer",
            "fallback_offer",
            decisioning.FallbackOfferIn,
            columns=("name", "status"),
            starter={
                "representations": [
                    {"placement_id": "", "content": {"text": "Welcome aboard"}},
                ],
            },
        ),
        _decisioning(
            "collections",
            "collections",
            "Collections",
            "collection",
            "offer_collection",
            decisioning.CollectionIn,
            columns=("name", "tags", "status"),
            starter={"offer_ids": []},
        ),
        _decisioning(
            "ranking-formulas",
            "ranking-formulas",
            "Ranking formulas",
            "ranking formula",
            "ranking_formula",
            decisioning.RankingFormulaIn,
            columns=("name", "expression", "status"),
            starter={"expression": "offer.priority"},
        ),
        _decisioning(
            "activities",
            "activities",
            "Activities",
            "activity",
            "activity",
            decisioning.ActivityIn,
            columns=("name", "status", "ranking.method", "start", "end"),
            starter={
                "placement_id": "",
                "collection_id": "",
                "fallback_offer_id": "",
                "ranking": {"method": "priority"},
            },
            help="A placement, the collection it draws from, its ranking and its fallback.",
        ),
        Resource(
            "commission-rates",
            "Commission rates",
            "commission rate",
            "commission_rate",
            "/v1/admin/tenants/{tenant}/commission-rates",
            "/v1/admin/commission-rates/{id}",
            commerce.CommissionRateIn,
            ("name", "component", "category", "seller_id", "commission_type", "rate", "is_active"),
            starter={
                "component": "category",
                "category": "electronics",
                "commission_type": "PERCENTAGE",
                "rate": "8.5",
            },
        ),
        Resource(
            "fee-rules",
            "Fee and tax rules",
            "fee rule",
            "fee_rule",
            "/v1/admin/tenants/{tenant}/fee-rules",
            "/v1/admin/fee-rules/{id}",
            commerce.FeeRuleIn,
            ("name", "type", "region", "category", "priority", "is_active"),
            starter={
                "type": "DELIVERY_FEE",
                "configuration": {"base_fee": "20.00"},
            },
        ),
        Resource(
            "coupons",
            "Coupons",
            "coupon",
            "coupon",
            "/v1/admin/tenants/{tenant}/coupons",
            "/v1/admin/coupons/{id}",
            commerce.CouponIn,
            ("code", "name", "type", "value", "valid_until", "is_active"),
            starter={"type": "PERCENTAGE", "value": "10"},
        ),
        Resource(
            "flags",
            "Feature flags",
            "feature flag",
            "feature_flag",
            "/v1/admin/tenants/{tenant}/feature-flags",
            "/v1/admin/feature-flags/{id}",
            FeatureFlagIn,
            ("key", "name", "type", "is_enabled", "rollout.percentage"),
            starter={
                "type": "BOOLEAN",
                "value": True,
                "default_value": False,
                "is_enabled": False,
                "rollout": {"percentage": 0},
            },
            help="Targeting rules, variants and a percentage rollout (sticky per user).",
        ),
        Resource(
            "experiments",
            "Experiments",
            "experiment",
            "experiment",
            "/v1/admin/tenants/{tenant}/experiments",
            "/v1/admin/experiments/{id}",
            ExperimentIn,
            ("key", "name", "status", "coverage", "start", "end"),
            starter={
                "variants": [
                    {"key": "control", "weight": 0.5},
                    {"key": "treatment", "weight": 0.5},
                ],
                "primary_metric": {"key": "conversion", "kind": "conversion", "event": "purchase"},
            },
            help="Sticky assignment, exposures and results with intervals and a verdict.",
        ),
        Resource(
            "campaigns",
            "Campaigns",
            "campaign",
            "campaign",
            "/v1/admin/tenants/{tenant}/campaigns",
            "/v1/admin/campaigns/{id}",
            CampaignIn,
            ("code", "name", "channel", "budget", "holdout_share", "starts_at", "ends_at"),
            starter={
                "promotions": ["PROMOTION-CODE"],
                "channel": "email",
                "budget": "1000.00",
                "starts_at": "2027-01-01T00:00:00Z",
                "ends_at": "2027-02-01T00:00:00Z",
                "holdout_share": 0.2,
            },
            help="Promotions granted as personal coupons to an audience within a budget, a "
            "share held out; results on the Campaign results page.",
        ),
    )
}


def dig(row: dict[str, Any], path: str) -> Any:
    """``row["a"]["b"]`` for the column ``a.b``; None where it is missing."""
    found: Any = row
    for part in path.split("."):
        found = found.get(part) if isinstance(found, dict) else None
    return found


def cell(value: Any) -> str:
    """A read document's field as a list cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(", ", ": "), default=str)
        return text if len(text) <= 80 else text[:77] + "…"
    return str(value)


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    status: int
    data: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        if isinstance(self.data, dict):
            return str(self.data.get("detail") or self.data.get("title") or "")
        return ""

    @property
    def problem(self) -> str | None:
        """What a page shows when the API refused: None when it answered."""
        return None if self.ok else self.detail

    def listed(self, key: str | None = "items") -> list[Any]:
        """The answer's list (under ``key``, or the answer itself for None); empty if refused."""
        if not self.ok:
            return []
        if key is None:
            found = self.data
        else:
            found = self.data.get(key) if isinstance(self.data, dict) else None
        return found if isinstance(found, list) else []


async def api_get(request: Request, path: str, **params: Any) -> ApiAnswer:
    """GET ``path`` from this app's JSON API, in process, as the visitor (her session cookie)."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return await api_call(
        request,
        "GET",
        path,
        query=query,
        headers=[(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())],
    )


async def api_call(
    request: Request,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: list[tuple[bytes, bytes]],
    body: bytes | None = None,
) -> ApiAnswer:
    """``method`` ``path`` of this app's JSON API, called in process (the ASGI app itself) with
    ``headers`` after the host and the accept of JSON, and its answer read as JSON (a body that
    is not JSON as its ``detail``). ``body``: sent once, then the client is gone; None, no body
    (every read of it finds it empty)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"admin.internal"), (b"accept", b"application/json"), *headers],
        "client": request.scope.get("client"),
        "server": request.scope.get("server"),
        "app": request.app,
    }
    status = 500
    answer = bytearray()
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if body is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            answer.extend(message.get("body", b""))

    await request.app(scope, receive, send)
    try:
        data = json.loads(answer) if answer else None
    except ValueError:
        data = {"detail": answer.decode(errors="replace")}
    return ApiAnswer(status, data)


_ABBREVIATIONS = {"id": "ID", "ids": "IDs", "url": "URL", "api": "API", "ofrep": "OFREP"}


def human_label(name: str) -> str:
    """A field's name as a person reads it: ``is_enabled`` → "Enabled", ``default_value`` →
    "Default value", ``placement_id`` → "Placement ID", ``rollout.percentage`` → "Rollout
    percentage"."""
    words = name.replace(".", " ").replace("_", " ").split()
    if len(words) > 1 and words[0] == "is":
        words = words[1:]
    words = [_ABBREVIATIONS.get(w.lower(), w) for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def model_label(title: str) -> str:
    """A model's class name as a person reads it: ``FeatureFlagIn`` → "Feature flag",
    ``ForceRule`` → "Force rule" (the API's input/output suffixes dropped)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[a-z0-9]+", title)
    while len(words) > 1 and words[-1] in ("In", "Create", "Update", "Read"):
        words.pop()
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def _one_of(label: str) -> str:
    """An item of a list labelled ``label``: "Variants" → "Variant", "Categories" → "Category"."""
    if label.endswith("ies"):
        return label[:-3] + "y"
    if label.endswith("s") and not label.endswith("ss"):
        return label[:-1]
    return label


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its ``$defs`` written in place, so that a field keeps its own label and
    help (json-editor lets a reference's title and description win over the field's); a model
    that contains itself stays a reference."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def resolve(node: Any, inside: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(n, inside) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.rsplit("/", 1)[-1]
            if name not in inside and name in defs:
                target = resolve(defs[name], (*inside, name))
                own = {k: resolve(v, inside) for k, v in node.items() if k != "$ref"}
                return {**target, **own}
        return {k: resolve(v, inside) for k, v in node.items()}

    inlined: dict[str, Any] = resolve({k: v for k, v in schema.items() if k != "$defs"}, ())
    if "$ref" in json.dumps(inlined):  # a recursive model: its references need the defs
        inlined["$defs"] = defs
    return inlined


def form_schema(model: type[BaseModel], title: str | None = None) -> dict[str, Any]:
    """The model's JSON schema, shaped for the form editor (json-editor): labels people read
    (the field's name, never the model's class name: "Rollout", not "RolloutIn"), an optional
    field as its one non-null type (the form's opt-in box says whether it is given), booleans
    as checkboxes, examples as placeholders, each help text once, and free-form objects that
    may take new keys. ``title`` heads the form instead of the model's docstring."""
    schema = _inline(model.model_json_schema())

    def shape(node: Any) -> Any:
        if isinstance(node, list):
            return [shape(n) for n in node]
        if not isinstance(node, dict):
            return node
        node = {k: shape(v) for k, v in node.items()}
        options = node.get("anyOf")
        if isinstance(options, list):
            kept = [o for o in options if o != {"type": "null"}]
            numbers = [o for o in kept if o.get("type") == "number"]
            texts = [o for o in kept if o.get("type") == "string"]
            if len(kept) == 2 and numbers and texts:  # a Decimal: typed as text, kept exact
                kept = texts
            if len(kept) == 1 and len(kept) < len(options):
                node.pop("anyOf")
                node.pop("default", None)
                node = {**kept[0], **node}
        if node.get("format") == "date-time":  # a browser's datetime-local has no zone
            node.pop("format")
            said = str(node.get("description", ""))
            if "zone" not in said:
                node["description"] = f"{said} A time with its zone, e.g. 2026-12-24T00:00:00Z."
                node["description"] = node["description"].strip()
        if node.get("type") == "boolean":
            node["format"] = "checkbox"
        title = node.get("title")
        if isinstance(title, str) and re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+", title):
            node["title"] = model_label(title)  # a model's class name
        if (
            node.get("type") == "object"
            and "additionalProperties" in node
            and not node.get("properties")
        ):
            node["options"] = {**node.get("options", {}), "disable_properties": False}
        examples = node.pop("examples", None)
        if isinstance(examples, list) and examples and isinstance(examples[0], (str, int, float)):
            attributes = {"placeholder": f"e.g. {examples[0]}"}
            node["options"] = {**node.get("options", {}), "inputAttributes": attributes}
        if isinstance(node.get("properties"), dict):  # the model's order, not the alphabet's
            for order, (name, child) in enumerate(node["properties"].items()):
                if isinstance(child, dict):
                    child["propertyOrder"] = order + 1
                    child["title"] = human_label(name)
                    items = child.get("items")
                    if child.get("type") == "array" and isinstance(items, dict):
                        items["title"] = _one_of(child["title"])
                    if child.get("type") == "boolean" and name not in node.get("required", []):
                        # A checkbox is its own opt-in: unticked is the default (false).
                        node["required"] = [*node.get("required", []), name]
        return node

    shaped: dict[str, Any] = shape(schema)
    if title is not None:
        shaped["title"] = title
        shaped.pop("description", None)
    return shaped


def start_value(document: dict[str, Any]) -> dict[str, Any]:
    """A document as the form starts from it: unset (null) fields are left out, at every depth,
    so that their opt-in boxes start unticked and the API applies its defaults."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    stripped: dict[str, Any] = strip(document)
    return stripped
