"""NDC 21.3 messages to the engine's requests, and the engine's answers to NDC messages: pure mapping.

1. **In.** An AirShoppingRQ's ``OriginDestCriteria`` (one to four) become a journey search's
   ``slices`` (``CalendarDateCriteria`` its ± days), its ``PaxList`` the party (ADT, CHD/CNN, INF),
   ``CabinType`` the cabin, ``ResponseParameters/CurParameter`` the selling currency; the channel
   is ``ndc``. A ``SelectedOffer``'s items become an order's optional items, its ``PaxList`` the
   passengers (names, birth date, contact, loyalty account). What the engine cannot honour is
   refused here, naming the element, before any use case runs.
2. **Ids.** ``OfferID`` is the engine's offer id, ``OfferItemID`` is ``{OfferID}-{item_id}``,
   ``OrderID`` the order's id and ``OrderItemID`` ``{OrderID}-{item_id}``: an NDC client that
   sends back what it was shown reaches the same offer, items and order. ``PaxID`` are the
   client's in shopping and pricing; an order's are ``PAX1…`` in the order of its ``PaxList``.
   Segment, journey and origin-destination ids (``SEG1``, ``JOUR1``, ``OD1``) are per message.
3. **Out.** An offer's slices and segments become ``PaxJourneyList``/``PaxSegmentList``/
   ``DatedMarketingSegmentList``; its items ``OfferItem`` with one ``Service`` per passenger,
   associated with a journey, a segment or a ``ServiceDefinition`` (an ancillary product); the
   taxes go with the flight item of their segment, so that the items add up to ``TotalPrice``.
4. **Errors.** A refused request answers NDC ``Error`` entries: ``Code`` (PADIS 9321, the codes
   documented in docs/ndc.md), ``DescText``, ``TagText`` (the element's path) and ``TypeCode``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from offerengine import money
from offerengine.errors import Conflict, FieldError, Invalid, Loc, NotFound
from offerengine.ndc import schemas as ndc

VERSION = "21.3"
CABINS = {"1": "FIRST", "2": "BUSINESS", "4": "PREMIUM_ECONOMY", "5": "ECONOMY"}
CABIN_CODES = {cabin: code for code, cabin in CABINS.items()}
CABIN_NAMES = {
    "FIRST": "First",
    "BUSINESS": "Business",
    "PREMIUM_ECONOMY": "Premium Economy",
    "ECONOMY": "Economy",
}
PASSENGER_TYPES = {"ADT": "ADULT", "CHD": "CHILD", "CNN": "CHILD", "INF": "INFANT"}
PTC_OF = {"ADULT": "ADT", "CHILD": "CHD", "INFANT": "INF"}
# The PADIS 9321 code of each refusal (docs/ndc.md): by field error type, else by HTTP status.
CODES_BY_TYPE = {
    "missing": "912",
    "extra_forbidden": "914",
    "unsupported": "914",
    "duplicate_id": "476",
    "passenger_type": "143",
    "too_many_passengers": "68",
    "infants": "324",
    "same_airport": "130",
    "owner_code": "727",
    "price_changed": "727",
    "offer_unknown": "913",
    "order_unknown": "129",
}
CODES_BY_STATUS = {401: "111", 403: "111", 404: "913", 409: "496", 410: "913", 503: "911"}
AIR_SHOPPING: Loc = ("body", "IATA_AirShoppingRQ", "Request")
OFFER_PRICE: Loc = ("body", "IATA_OfferPriceRQ", "Request")
ORDER_CREATE: Loc = ("body", "IATA_OrderCreateRQ", "Request")
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Traveller:
    pax_id: str
    type: str  # ADULT, CHILD or INFANT


# --- requests in --------------------------------------------------------------------------------


def travellers(paxes: Sequence[ndc.NdcPax | ndc.NdcOrderPax], at: Loc) -> list[Traveller]:
    """The passengers of a ``PaxList``: unique ids, types the engine sells, a party it seats."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    found: list[Traveller] = []
    for n, pax in enumerate(paxes):
        if pax.pax_id in seen:
            errors.append(FieldError((*at, n, "PaxID"), f"{pax.pax_id} is twice", "duplicate_id"))
        seen.add(pax.pax_id)
        kind = PASSENGER_TYPES.get(pax.ptc)
        if kind is None:
            msg = f"{pax.ptc!r} is not sold: ADT, CHD (or CNN) or INF"
            errors.append(FieldError((*at, n, "PTC"), msg, "passenger_type"))
            continue
        found.append(Traveller(pax.pax_id, kind))
    if not errors:
        errors = _party(found, at)
    if errors:
        raise Invalid.of(errors)
    return found


def _party(found: Sequence[Traveller], at: Loc) -> list[FieldError]:
    count = {kind: sum(t.type == kind for t in found) for kind in PTC_OF}
    seated = count["ADULT"] + count["CHILD"]
    if seated == 0:
        return [FieldError(at, "at least one ADT or CHD", "passenger_type")]
    if seated > 9:
        return [FieldError(at, "at most 9 seated passengers", "too_many_passengers")]
    if count["INFANT"] > count["ADULT"]:
        return [FieldError(at, "each INF travels on an ADT's lap: no more INF than ADT", "infants")]
    return []


def party(found: Sequence[Traveller]) -> dict[str, int]:
    """The engine's ``passengers`` counts."""
    return {
        "adults": sum(t.type == "ADULT" for t in found),
        "children": sum(t.type == "CHILD" for t in found),
        "infants": sum(t.type == "INFANT" for t in found),
    }


def search_request(rq: ndc.AirShoppingRQ) -> tuple[Json, list[Traveller]]:
    """The engine's journey search (``POST /v1/offers/search``) for an AirShoppingRQ, and its
    travellers."""
    request = rq.message.request
    found = travellers(request.pax_list.pax, (*AIR_SHOPPING, "PaxList", "Pax"))
    at = (*AIR_SHOPPING, "FlightRequest", "FlightRequestOriginDestinationsCriteria")
    errors: list[FieldError] = []
    slices: list[Json] = []
    cabins: set[str] = set()
    for n, criteria in enumerate(request.flight_request.criteria.origin_dest_criteria):
        here = (*at, "OriginDestCriteria", n)
        origin = criteria.origin_dep_criteria.iata_location_code
        destination = criteria.dest_arrival_criteria.iata_location_code
        if origin == destination:
            loc = (*here, "DestArrivalCriteria", "IATA_LocationCode")
            errors.append(FieldError(loc, "the same airport as the origin", "same_airport"))
        days = 0
        if (calendar := criteria.calendar_date_criteria) is not None:
            if calendar.days_before_number != calendar.days_after_number:
                loc = (*here, "CalendarDateCriteria")
                msg = "DaysBeforeNumber and DaysAfterNumber must be equal (a ± days window)"
                errors.append(FieldError(loc, msg, "unsupported"))
            days = calendar.days_after_number
        # No CabinType (or an empty code) states no preference: the journey's, else economy.
        code = criteria.cabin_type.cabin_type_code if criteria.cabin_type else ""
        cabin = CABINS.get(code)
        if not code:
            pass
        elif cabin is None:
            loc = (*here, "CabinType", "CabinTypeCode")
            msg = f"{code!r} is not a cabin: 1 First, 2 Business, 4 Premium economy, 5 Economy"
            errors.append(FieldError(loc, msg, "unsupported"))
        else:
            cabins.add(cabin)
        date = criteria.origin_dep_criteria.date.isoformat()
        slices.append({"origin": origin, "destination": destination, "date": date, "days": days})
    if len(cabins) > 1:
        msg = "one cabin for the whole journey: every CabinTypeCode the same"
        errors.append(FieldError(at, msg, "unsupported"))
    if errors:
        raise Invalid.of(errors)
    search: Json = {
        "slices": slices,
        "passengers": party(found),
        "cabin": cabins.pop() if cabins else "ECONOMY",
        "channel": "ndc",
    }
    parameters = request.response_parameters
    if parameters is not None and parameters.cur_parameter is not None:
        search["currency"] = parameters.cur_parameter.cur_code
    return search, found


def search_loc(loc: Loc) -> Loc:
    """The AirShoppingRQ element an engine search error is about (from its field's path)."""
    if loc[1:2] == ("slices",) and len(loc) > 2:
        at = (*AIR_SHOPPING, "FlightRequest", "FlightRequestOriginDestinationsCriteria")
        return (*at, "OriginDestCriteria", loc[2])
    if loc[1:2] == ("passengers",):
        return (*AIR_SHOPPING, "PaxList")
    if loc[1:2] == ("currency",):
        return (*AIR_SHOPPING, "ResponseParameters", "CurParameter", "CurCode")
    return AIR_SHOPPING


def offer_item_id(offer_id: str, item_id: str) -> str:
    return f"{offer_id}-{item_id}"


def order_item_id(order_id: str, item_id: str) -> str:
    return f"{order_id}-{item_id}"


@dataclass(frozen=True, slots=True)
class Selection:
    """What a ``SelectedOffer`` chose from a stored offer: its items (every mandatory one) and
    the travellers it names."""

    offer_id: str
    item_ids: tuple[str, ...]
    optional_ids: tuple[str, ...]


def offer_ref(selected: ndc.NdcSelectedOffer, at: Loc) -> str:
    """The engine's offer id of a ``SelectedOffer`` (32 hex digits), or a 404 naming it."""
    offer_id = selected.offer_ref_id
    if len(offer_id) != 32 or any(c not in "0123456789abcdef" for c in offer_id):
        raise unknown_offer(offer_id, at)
    return offer_id


def unknown_offer(offer_id: str, at: Loc) -> NotFound:
    """An ``OfferRefID`` the engine never made: a 404 naming it."""
    return NotFound(
        f"No offer {offer_id}.", [FieldError((*at, "OfferRefID"), "no such offer", "offer_unknown")]
    )


def select(
    selected: ndc.NdcSelectedOffer,
    offer: Mapping[str, Any],
    found: Sequence[Traveller],
    *,
    owner: str,
    at: Loc,
) -> Selection:
    """Check a ``SelectedOffer`` against the stored ``offer`` and the message's travellers."""
    errors: list[FieldError] = []
    if selected.owner_code is not None and selected.owner_code != owner:
        msg = f"the offers here are {owner}'s"
        errors.append(FieldError((*at, "OwnerCode"), msg, "owner_code"))
    search_id = selected.shopping_response_ref_id
    if search_id is not None and search_id != offer["search_id"]:
        msg = "not the ShoppingResponseID of this offer"
        errors.append(FieldError((*at, "ShoppingResponseRefID"), msg, "offer_unknown"))
    items = {i["item_id"]: i for i in offer["items"]}
    prefix = f"{offer['offer_id']}-"
    ids = {t.pax_id for t in found}
    chosen: list[str] = []
    for n, item in enumerate(selected.selected_offer_item):
        here = (*at, "SelectedOfferItem", n)
        ref = item.offer_item_ref_id
        item_id = ref[len(prefix) :] if ref.startswith(prefix) else None
        if item_id is None or item_id not in items:
            msg = "not an OfferItemID of this offer"
            errors.append(FieldError((*here, "OfferItemRefID"), msg, "offer_unknown"))
        elif item_id in chosen:
            errors.append(FieldError((*here, "OfferItemRefID"), "chosen twice", "duplicate_id"))
        else:
            chosen.append(item_id)
        errors.extend(
            FieldError((*here, "PaxRefID", k), f"no Pax {pax!r} in PaxList", "missing")
            for k, pax in enumerate(item.pax_ref_id)
            if pax not in ids
        )
    left = [i for i, item in items.items() if item["required"] and i not in chosen]
    if left and not errors:
        names = ", ".join(offer_item_id(offer["offer_id"], i) for i in left)
        errors.append(FieldError((*at, "SelectedOfferItem"), f"mandatory: {names}", "missing"))
    if errors:
        raise Invalid.of(errors)
    kept = tuple(i for i in items if i in chosen)
    optional = tuple(i for i in kept if not items[i]["required"])
    return Selection(offer["offer_id"], kept, optional)


def check_travellers(found: Sequence[Traveller], offer: Mapping[str, Any], at: Loc) -> None:
    """The message's travellers are the party the offer was made for."""
    wanted = {p["type"]: int(p["count"]) for p in offer["price"]["per_passenger"]}
    given = {kind: n for kind, n in party_by_type(found).items() if n}
    if given != wanted:
        said = ", ".join(f"{n} {PTC_OF[kind]}" for kind, n in wanted.items())
        raise Invalid.field(at, f"the offer is for {said}", "passenger_type")


def party_by_type(found: Iterable[Traveller]) -> dict[str, int]:
    counts = dict.fromkeys(PTC_OF, 0)
    for t in found:
        counts[t.type] += 1
    return counts


def selected_total(offer: Mapping[str, Any], item_ids: Iterable[str]) -> Decimal:
    """What the chosen items cost with the offer's taxes, as the order will charge it."""
    chosen = set(item_ids)
    amounts = [Decimal(i["price"]["total"]) for i in offer["items"] if i["item_id"] in chosen]
    return sum(amounts, Decimal(offer["price"]["tax_total"]))


def check_price(
    selected: ndc.NdcSelectedOffer, offer: Mapping[str, Any], total: Decimal, at: Loc
) -> None:
    """A ``TotalOfferPriceAmount`` that is not the current price is refused (409)."""
    expected = selected.total_offer_price_amount
    if expected is None:
        return
    currency = offer["currency"]
    if expected.cur_code != currency or expected.value != total:
        now = f"{money.format_amount(money.to_minor(total, currency), currency)} {currency}"
        raise Conflict(
            f"The offer's price is now {now}.",
            [FieldError((*at, "TotalOfferPriceAmount"), f"the price is {now}", "price_changed")],
        )


def chosen_offer(rq: ndc.OrderCreateRQ) -> tuple[ndc.NdcSelectedOffer, Loc]:
    """The one offer an OrderCreateRQ orders, and where it is in the message."""
    create = rq.message.request.create_order
    at = (*ORDER_CREATE, "CreateOrder")
    if (create.accepted is None) == (create.selected_offer is None):
        msg = "give AcceptSelectedQuotedOfferList or SelectedOffer (one of them)"
        raise Invalid.field(at, msg, "missing")
    if create.accepted is not None:
        where = (*at, "AcceptSelectedQuotedOfferList", "SelectedPricedOffer", 0)
        return create.accepted.selected_priced_offer[0], where
    assert create.selected_offer is not None  # one of the two, checked above
    return create.selected_offer[0], (*at, "SelectedOffer", 0)


def order_request(rq: ndc.OrderCreateRQ, offer: Mapping[str, Any], *, owner: str) -> Json:
    """The engine's order (``POST /v1/orders``) for an OrderCreateRQ of the stored ``offer``."""
    selected, at = chosen_offer(rq)
    lists = rq.message.request.data_lists
    pax_at = (*ORDER_CREATE, "DataLists", "PaxList", "Pax")
    found = travellers(lists.pax_list.pax, pax_at)
    selection = select(selected, offer, found, owner=owner, at=at)
    check_travellers(found, offer, (*ORDER_CREATE, "DataLists", "PaxList"))
    check_price(selected, offer, selected_total(offer, selection.item_ids), at)
    contacts = {
        c.contact_info_id: c for c in (lists.contact_info_list or _NO_CONTACTS).contact_info
    }
    passengers: list[Json] = []
    for n, pax in enumerate(lists.pax_list.pax):
        person = pax.individual
        passenger: Json = {
            "type": PASSENGER_TYPES[pax.ptc],
            "given_name": " ".join(person.given_name),
            "surname": person.surname,
        }
        if person.birthdate is not None:
            passenger["birth_date"] = person.birthdate.isoformat()
        for k, ref in enumerate(pax.contact_info_ref_id or ()):
            contact = contacts.get(ref)
            if contact is None:
                loc = (*pax_at, n, "ContactInfoRefID", k)
                raise Invalid.field(loc, f"no ContactInfo {ref!r} in ContactInfoList", "missing")
            if contact.email_address:
                passenger.setdefault("email", contact.email_address[0].email_address_text)
            if contact.phone:
                phone = contact.phone[0]
                dial = f"+{phone.country_dialing_code} " if phone.country_dialing_code else ""
                passenger.setdefault("phone", dial + phone.phone_number)
        if pax.loyalty_program_account:
            passenger["loyalty_number"] = pax.loyalty_program_account[0].account_number
        passengers.append(passenger)
    return {
        "offer_id": selection.offer_id,
        "passengers": passengers,
        "selected_optional_items": list(selection.optional_ids),
    }


_NO_CONTACTS = ndc.NdcContactInfoList.model_construct(contact_info=[])
_PASSENGER_FIELDS = {
    "given_name": ("Individual", "GivenName"),
    "surname": ("Individual", "Surname"),
    "birth_date": ("Individual", "Birthdate"),
    "email": ("ContactInfoRefID",),
    "phone": ("ContactInfoRefID",),
    "loyalty_number": ("LoyaltyProgramAccount",),
}


def order_loc(loc: Loc) -> Loc:
    """The OrderCreateRQ element an engine order error is about (from its field's path)."""
    pax = (*ORDER_CREATE, "DataLists", "PaxList")
    if loc[1:2] == ("passengers",):
        if len(loc) > 2 and isinstance(loc[2], int):
            name = str(loc[3]) if len(loc) > 3 else ""
            return (*pax, "Pax", loc[2], *_PASSENGER_FIELDS.get(name, ()))
        return pax
    return (*ORDER_CREATE, "CreateOrder")


# --- answers out ---------------------------------------------------------------------------------


def payload(attributes: ndc.NdcPayloadAttributes | None, now: datetime) -> Json:
    """The answer's ``PayloadAttributes``: the request's ids echoed, our version and time."""
    echoed: Json = {}
    if attributes is not None:
        for name, value in (
            ("CorrelationID", attributes.correlation_id),
            ("EchoTokenText", attributes.echo_token_text),
            ("TrxID", attributes.trx_id),
        ):
            if value is not None:
                echoed[name] = value
    return {**echoed, "Timestamp": now.isoformat(), "VersionNumber": VERSION}


def amount(value: Decimal | str, currency: str) -> Json:
    """An NDC amount: ``{"CurCode", "value"}``, the value with the currency's minor units (an
    engine amount, a string, already has them)."""
    if isinstance(value, str):
        return {"CurCode": currency, "value": value}
    minor = money.to_minor(value, currency)
    return {"CurCode": currency, "value": money.format_amount(minor, currency)}


def duration(minutes: int) -> str:
    """ISO 8601, as NDC writes durations: ``PT7H10M``."""
    return f"PT{minutes // 60}H{minutes % 60}M"


def _minutes(departs: str, arrives: str) -> int:
    return (
        int((datetime.fromisoformat(arrives) - datetime.fromisoformat(departs)).total_seconds())
        // 60
    )


def _local(at: str) -> str:
    return at if len(at) > 16 else f"{at}:00"


@dataclass
class DataLists:
    """A message's ``DataLists``, filled as offers or orders are written: each segment, journey
    and service definition once, with ids in order of first use."""

    cabin: str
    travellers: Sequence[Traveller]
    segments: dict[str, Json] = field(default_factory=dict)  # flight id → PaxSegment
    marketing: list[Json] = field(default_factory=list)
    journeys: dict[tuple[str, ...], Json] = field(default_factory=dict)
    origin_dests: dict[tuple[str, str], Json] = field(default_factory=dict)
    services: dict[str, Json] = field(default_factory=dict)  # product code → definition
    price_classes: dict[str, Json] = field(default_factory=dict)  # fare family code → class
    pax: list[Json] | None = None  # the PaxList, when richer than ids and types
    contacts: list[Json] = field(default_factory=list)

    def segment(self, flight: Mapping[str, Any]) -> str:
        key = str(flight["flight_id"])
        found = self.segments.get(key)
        if found is None:
            n = len(self.segments) + 1
            self.marketing.append(
                {
                    "DatedMarketingSegmentId": f"DMS{n}",
                    "Dep": {
                        "IATA_LocationCode": flight["origin"],
                        "AircraftScheduledDateTime": _local(flight["departure_local"]),
                    },
                    "Arrival": {
                        "IATA_LocationCode": flight["destination"],
                        "AircraftScheduledDateTime": _local(flight["arrival_local"]),
                    },
                    "CarrierDesigCode": flight["carrier"],
                    "MarketingCarrierFlightNumberText": flight["flight_number"],
                }
            )
            found = self.segments[key] = {
                "PaxSegmentID": f"SEG{n}",
                "DatedMarketingSegmentRefId": f"DMS{n}",
                "Duration": duration(_minutes(flight["departure_at"], flight["arrival_at"])),
                "CabinTypeAssociationChoice": {
                    "SegmentCabinType": {
                        "CabinTypeCode": CABIN_CODES[self.cabin],
                        "CabinTypeName": CABIN_NAMES[self.cabin],
                    }
                },
            }
        return str(found["PaxSegmentID"])

    def journey(self, flights: Sequence[Mapping[str, Any]]) -> str:
        segments = [self.segment(f) for f in flights]
        key = tuple(segments)
        found = self.journeys.get(key)
        if found is None:
            minutes = _minutes(flights[0]["departure_at"], flights[-1]["arrival_at"])
            found = self.journeys[key] = {
                "PaxJourneyID": f"JOUR{len(self.journeys) + 1}",
                "PaxSegmentRefID": segments,
                "Duration": duration(minutes),
            }
            route = (flights[0]["origin"], flights[-1]["destination"])
            od = self.origin_dests.setdefault(
                route,
                {
                    "OriginDestID": f"OD{len(self.origin_dests) + 1}",
                    "OriginCode": route[0],
                    "DestCode": route[1],
                    "PaxJourneyRefID": [],
                },
            )
            od["PaxJourneyRefID"].append(found["PaxJourneyID"])
        return str(found["PaxJourneyID"])

    def service(self, item: Mapping[str, Any]) -> str:
        code = str(item.get("product_code") or item["item_id"])
        if code not in self.services:
            definition: Json = {"ServiceDefinitionID": code, "Name": item.get("name") or code}
            if item.get("type"):
                definition["Desc"] = [{"DescText": str(item["type"])}]
            self.services[code] = definition
        return code

    def render(self) -> Json:
        pax = self.pax or [{"PaxID": t.pax_id, "PTC": PTC_OF[t.type]} for t in self.travellers]
        lists: Json = {
            "OriginDestList": {"OriginDest": list(self.origin_dests.values())},
            "PaxJourneyList": {"PaxJourney": list(self.journeys.values())},
            "PaxList": {"Pax": pax},
            "PaxSegmentList": {"PaxSegment": list(self.segments.values())},
            "DatedMarketingSegmentList": {"DatedMarketingSegment": self.marketing},
        }
        if self.price_classes:
            lists["PriceClassList"] = {"PriceClass": list(self.price_classes.values())}
        if self.services:
            lists["ServiceDefinitionList"] = {"ServiceDefinition": list(self.services.values())}
        if self.contacts:
            lists["ContactInfoList"] = {"ContactInfo": self.contacts}
        return lists

    def price_class(self, family: Mapping[str, Any]) -> str:
        """A fare family (as an offer's grid shows it) as a ``PriceClass``: its code, name and
        what it includes, one ``Desc`` line each."""
        code = str(family["code"])
        if code not in self.price_classes:
            self.price_classes[code] = {
                "PriceClassID": code,
                "Name": family["name"],
                "Code": code,
                "Desc": [
                    {"DescText": line}
                    for line in family_lines(family["attributes"], family["fee_currency"])
                ],
            }
        return code


def family_lines(attributes: Mapping[str, Any], currency: str) -> list[str]:
    """What a fare family includes, as lines of text."""

    def rule(name: str, value: str, fee: str | None) -> str:
        return f"{name}: {value.replace('_', ' ')}" + (f" {fee} {currency}" if fee else "")

    bags = int(attributes.get("checked_bags", 0))
    lines = [
        f"{bags} checked bag{'s' if bags != 1 else ''}",
        "cabin bag" if attributes.get("carry_on") else "no cabin bag",
        f"seat selection: {attributes.get('seat_selection')}",
        rule("changes", str(attributes.get("changes")), attributes.get("change_fee")),
        rule("refunds", str(attributes.get("refunds")), attributes.get("refund_fee")),
    ]
    if attributes.get("priority_boarding"):
        lines.append("priority boarding")
    if attributes.get("lounge"):
        lines.append("lounge")
    lines += [f"{k}: {v}" for k, v in (attributes.get("other") or {}).items()]
    return lines


def _families_of(shown: Mapping[str, Any]) -> dict[tuple[int, str], Mapping[str, Any]]:
    """An offer's fare families by (slice, code): a one-way offer's grid is slice 1's."""
    grid = shown.get("fare_families") or []
    if grid and "slice" in grid[0]:
        return {(int(g["slice"]), str(f["code"])): f for g in grid for f in g["families"]}
    return {(1, str(f["code"])): f for f in grid}


def _fare_detail(
    item: Mapping[str, Any],
    families: Mapping[tuple[int, str], Mapping[str, Any]],
    lists: DataLists,
    flights: Sequence[Mapping[str, Any]],
) -> list[Json]:
    """A FLIGHT item's ``FareDetail``: the price class (fare family) its fare sells in."""
    family = families.get((int(item.get("slice", 1)), str(item.get("fare_family"))))
    if item.get("type") != "FLIGHT" or family is None:
        return []
    segments = [lists.segment(item["flight"])] if "segment" in item else []
    if not segments:
        segments = [lists.segment(f) for f in flights]
    return [
        {
            "FareComponent": [
                {"PriceClassRefID": lists.price_class(family), "PaxSegmentRefID": segments}
            ]
        }
    ]


def _slices_of(items: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The flights of the FLIGHT items, slice by slice, in segment order."""
    by_slice: dict[int, list[tuple[int, Mapping[str, Any]]]] = {}
    for item in items:
        if item.get("type") == "FLIGHT" and item.get("flight"):
            slot = by_slice.setdefault(int(item.get("slice", 1)), [])
            slot.append((int(item.get("segment", 1)), item["flight"]))
    return [[f for _, f in sorted(by_slice[s], key=lambda p: p[0])] for s in sorted(by_slice)]


def journeys_of(offer: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    """An offer's itineraries: each slice's segments (a one-way offer: its flight)."""
    if offer.get("slices"):
        return [list(s["segments"]) for s in offer["slices"]]
    return _slices_of(offer["items"]) or [[offer["flight"]]]


def _taxes_by_item(
    items: Sequence[Mapping[str, Any]], taxes: Sequence[Mapping[str, Any]]
) -> dict[str, list[Mapping[str, Any]]]:
    """Each tax on the flight item of its slice and segment (else on the first flight item)."""
    flights = [i for i in items if i.get("type") == "FLIGHT"]
    found: dict[str, list[Mapping[str, Any]]] = {}
    if not flights:
        return found
    for tax in taxes:
        home = next(
            (
                i
                for i in flights
                if "slice" in tax
                and i.get("slice") == tax.get("slice")
                and i.get("segment") == tax.get("segment")
            ),
            flights[0],
        )
        found.setdefault(home["item_id"], []).append(tax)
    return found


def _item_price(item: Mapping[str, Any], taxes: Sequence[Mapping[str, Any]], currency: str) -> Json:
    base = Decimal(item["price"]["total"])
    tax = sum((Decimal(t["amount"]) for t in taxes), Decimal(0))
    price: Json = {
        "TotalAmount": amount(base + tax, currency),
        "BaseAmount": amount(base, currency),
    }
    if taxes:
        price["TaxSummary"] = [
            {
                "Tax": [
                    {
                        "Amount": amount(t["amount"], currency),
                        "TaxCode": t["code"],
                        "TaxName": t["name"],
                    }
                    for t in taxes
                ],
                "TotalTaxAmount": amount(tax, currency),
            }
        ]
    if Decimal(item["price"].get("discount", "0")):
        price["DiscountAmount"] = amount(-Decimal(item["price"]["discount"]), currency)
    return price


def _services(
    item: Mapping[str, Any],
    lists: DataLists,
    journeys: Sequence[str],
    association: str,
    status: str | None,
) -> list[Json]:
    """One ``Service`` per passenger the item is for, with what it goes with."""
    if item.get("type") == "FLIGHT" and "segment" in item:
        link: Json = {"PaxSegmentRef": {"PaxSegmentRefID": [lists.segment(item["flight"])]}}
    elif item.get("type") == "FLIGHT":
        link = {"PaxJourneyRef": {"PaxJourneyRefID": list(journeys)}}
    else:
        segments = [
            s
            for key, journey in lists.journeys.items()
            if journey["PaxJourneyID"] in journeys
            and ("slice" not in item or journey["PaxJourneyID"] == journeys[int(item["slice"]) - 1])
            for s in key
        ]
        link = {
            "ServiceDefinitionRef": {
                "ServiceDefinitionRefID": lists.service(item),
                "OfferFlightAssociations": {"PaxSegmentReferences": {"PaxSegmentRefID": segments}},
            }
        }
    wanted = {p["type"]: int(p["count"]) for p in item.get("passengers", ())}
    services = []
    for kind, count in wanted.items():
        for t in [t for t in lists.travellers if t.type == kind][:count]:
            service: Json = {
                "ServiceID": f"{item['item_id']}-{t.pax_id}",
                "PaxRefID": t.pax_id,
                association: link,
            }
            if status is not None:
                service["StatusCode"] = status
            services.append(service)
    return services


def offer(
    shown: Mapping[str, Any],
    lists: DataLists,
    *,
    owner: str,
    only: Iterable[str] | None = None,
) -> Json:
    """An engine offer as an NDC ``Offer`` (``only``: those of its items, as priced)."""
    currency = shown["currency"]
    flights = journeys_of(shown)
    journeys = [lists.journey(legs) for legs in flights]
    families = _families_of(shown)
    kept = set(only) if only is not None else {i["item_id"] for i in shown["items"]}
    items = [i for i in shown["items"] if i["item_id"] in kept]
    taxes = _taxes_by_item(items, shown["price"]["taxes"])
    total = selected_total(shown, kept)
    tax_total = Decimal(shown["price"]["tax_total"])
    return {
        "OfferID": shown["offer_id"],
        "OwnerCode": owner,
        "OfferExpirationTimeLimitDateTime": shown["expires_at"],
        "TotalPrice": {
            "TotalAmount": amount(total, currency),
            "BaseAmount": amount(total - tax_total, currency),
            "TaxSummary": [{"TotalTaxAmount": amount(tax_total, currency)}],
        },
        "OfferItem": [
            {
                "OfferItemID": offer_item_id(shown["offer_id"], item["item_id"]),
                "MandatoryInd": bool(item["required"]),
                "Price": _item_price(item, taxes.get(item["item_id"], ()), currency),
                "Service": _services(item, lists, journeys, "OfferServiceAssociation", None),
                **(
                    {"FareDetail": detail}
                    if (detail := _fare_detail(item, families, lists, flights[0]))
                    else {}
                ),
            }
            for item in items
        ],
    }


def air_shopping_rs(
    answer: Mapping[str, Any], found: Sequence[Traveller], cabin: str, *, owner: str, head: Json
) -> Json:
    """The AirShoppingRS of a search's answer."""
    lists = DataLists(cabin, found)
    offers = [offer(o, lists, owner=owner) for o in answer["offers"]]
    response: Json = {
        "DataLists": lists.render(),
        "OffersGroup": {"CarrierOffers": [{"Offer": offers}]},
        "ShoppingResponse": {"ShoppingResponseID": answer["search_id"]},
    }
    warnings = [{"Code": "496", "DescText": w} for w in answer.get("warnings", ())]
    if not offers:
        warnings.append({"Code": "496", "DescText": "No offers available for this query."})
    if warnings:
        response["Warning"] = warnings
    return {"IATA_AirShoppingRS": {"PayloadAttributes": head, "Response": response}}


def offer_price_rs(
    shown: Mapping[str, Any],
    found: Sequence[Traveller],
    selection: Selection,
    *,
    today: Decimal | None,
    owner: str,
    head: Json,
) -> Json:
    """The OfferPriceRS of a shown offer: the chosen items at the price an order of it charges,
    and, when pricing it again ``today`` gives another total, a Warning saying so."""
    lists = DataLists(str(shown["cabin"]), found)
    priced = offer(shown, lists, owner=owner, only=selection.item_ids)
    response: Json = {"DataLists": lists.render(), "PricedOffer": priced}
    if today is not None:
        now = amount(today, shown["currency"])
        response["Warning"] = [
            {
                "Code": "OF1001",
                "DescText": f"Priced now the offer would be {now['value']} {now['CurCode']}; "
                f"it is held at its shown price until {shown['expires_at']}.",
            }
        ]
    return {"IATA_OfferPriceRS": {"PayloadAttributes": head, "Response": response}}


def order_travellers(order: Mapping[str, Any]) -> list[Traveller]:
    return [Traveller(f"PAX{n}", p["type"]) for n, p in enumerate(order["passengers"], 1)]


ORDER_STATUS = {"HELD": "OPENED", "CONFIRMED": "OPENED", "CANCELLED": "CLOSED", "EXPIRED": "CLOSED"}


def order_view(order: Mapping[str, Any], *, owner: str) -> Json:
    """An engine order as NDC's ``DataLists`` and ``Order``."""
    currency = order["currency"]
    found = order_travellers(order)
    cabin = next((i.get("cabin") for i in order["items"] if i.get("cabin")), "ECONOMY")
    lists = DataLists(str(cabin), found)
    pax = []
    for t, p in zip(found, order["passengers"], strict=True):
        person: Json = {"GivenName": [p["given_name"]], "Surname": p["surname"]}
        if p.get("birth_date"):
            person["Birthdate"] = p["birth_date"]
        entry: Json = {"PaxID": t.pax_id, "PTC": PTC_OF[t.type], "Individual": person}
        if p.get("email") or p.get("phone"):
            contact: Json = {"ContactInfoID": f"CI{len(lists.contacts) + 1}"}
            if p.get("email"):
                contact["EmailAddress"] = [{"EmailAddressText": p["email"]}]
            if p.get("phone"):
                contact["Phone"] = [{"PhoneNumber": p["phone"]}]
            lists.contacts.append(contact)
            entry["ContactInfoRefID"] = [contact["ContactInfoID"]]
        if p.get("loyalty_number"):
            entry["LoyaltyProgramAccount"] = [{"AccountNumber": p["loyalty_number"]}]
        pax.append(entry)
    lists.pax = pax
    journeys = [lists.journey(flights) for flights in _slices_of(order["items"])]
    taxes = _taxes_by_item(order["items"], order["price"].get("taxes", ()))
    order_id = str(order["id"])
    status = str(order["status"])
    held = status == "HELD"
    items = []
    for item in order["items"]:
        entry = {
            "OrderItemID": order_item_id(order_id, item["item_id"]),
            "OwnerCode": owner,
            "StatusCode": status,
            "Price": _item_price(item, taxes.get(item["item_id"], ()), currency),
            "Service": _services(item, lists, journeys, "OrderServiceAssociation", status),
        }
        if held:
            entry["PaymentTimeLimitDateTime"] = _timestamp(order["hold_expires_at"])
        items.append(entry)
    view: Json = {
        "OrderID": order_id,
        "OwnerCode": owner,
        "StatusCode": ORDER_STATUS.get(status, "OPENED"),
        "CreationDateTime": _timestamp(order["created_at"]),
        "TotalPrice": {"TotalAmount": amount(order["total"], currency)},
        "OrderItem": items,
    }
    if held:
        view["PaymentTimeLimitDateTime"] = _timestamp(order["hold_expires_at"])
    return {"DataLists": lists.render(), "Order": view}


def _timestamp(at: Any) -> str:
    return at.isoformat() if isinstance(at, datetime) else str(at)


def order_view_rs(order: Mapping[str, Any], *, owner: str, head: Json) -> Json:
    return {
        "IATA_OrderViewRS": {"PayloadAttributes": head, "Response": order_view(order, owner=owner)}
    }


def order_cancel_rs(order: Mapping[str, Any], *, owner: str, head: Json) -> Json:
    view = order_view(order, owner=owner)
    response = {"OrderRefID": str(order["id"]), **view}
    return {"IATA_OrderCancelRS": {"PayloadAttributes": head, "Response": response}}


# --- errors -------------------------------------------------------------------------------------


def tag_text(loc: Sequence[str | int]) -> str:
    """An element's path as NDC's ``TagText``: ``IATA_AirShoppingRQ/Request/PaxList/Pax[1]/PTC``."""
    parts: list[str] = []
    for part in loc[1:] if list(loc[:1]) == ["body"] else loc:
        if isinstance(part, int) and parts:
            parts[-1] += f"[{part}]"
        else:
            parts.append(str(part))
    return "/".join(parts)


def errors(status: int, detail: str, field_errors: Sequence[Mapping[str, Any]]) -> list[Json]:
    """NDC ``Error`` entries of a refused request: one per field error (else one for it)."""
    kind = "Retry" if status in (429, 503) else "NotProcessed"
    fallback = CODES_BY_STATUS.get(status, "914" if status < 500 else "911")
    if not field_errors:
        return [{"Code": fallback, "DescText": detail, "LangCode": "EN", "TypeCode": kind}]
    found = []
    for e in field_errors:
        error_type = str(e.get("type", ""))
        msg = str(e.get("msg", ""))
        if error_type == "extra_forbidden":
            msg = "not supported by this engine (docs/ndc.md)"
        found.append(
            {
                "Code": CODES_BY_TYPE.get(error_type, fallback),
                "DescText": msg,
                "LangCode": "EN",
                "TagText": tag_text(list(e.get("loc", ()))),
                "TypeCode": kind,
            }
        )
    return found
