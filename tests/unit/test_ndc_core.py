"""The NDC mapping core: messages to the engine's requests, its answers to NDC's shapes, errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerengine.errors import Conflict, Invalid, NotFound
from offerengine.ndc import core
from offerengine.ndc import schemas as ndc
from offerengine.validation import validate

OFFER_ID = "0123456789abcdef0123456789abcdef"


def _criteria(origin: str, destination: str, day: str, **more: Any) -> dict[str, Any]:
    return {
        "OriginDepCriteria": {"IATA_LocationCode": origin, "Date": day},
        "DestArrivalCriteria": {"IATA_LocationCode": destination},
        **more,
    }


def _shopping(criteria: Any, pax: Any, **request: Any) -> ndc.AirShoppingRQ:
    body = {
        "IATA_AirShoppingRQ": {
            "Request": {
                "FlightRequest": {
                    "FlightRequestOriginDestinationsCriteria": {"OriginDestCriteria": criteria}
                },
                "PaxList": {"Pax": pax},
                **request,
            }
        }
    }
    return validate(ndc.AirShoppingRQ, body)


ADULT_CHILD = [{"PaxID": "A1", "PTC": "ADT"}, {"PaxID": "C1", "PTC": "CNN"}]


def test_origin_dest_criteria_become_the_slices_of_a_journey_search() -> None:
    rq = _shopping(
        [
            _criteria("BOS", "LHR", "2030-06-01", CabinType={"CabinTypeCode": "2"}),
            _criteria(
                "LHR",
                "BOS",
                "2030-06-08",
                CalendarDateCriteria={"DaysBeforeNumber": 1, "DaysAfterNumber": 1},
            ),
        ],
        ADULT_CHILD,
        ResponseParameters={"CurParameter": {"CurCode": "EUR"}},
    )
    search, found = core.search_request(rq)
    assert search == {
        "slices": [
            {"origin": "BOS", "destination": "LHR", "date": "2030-06-01", "days": 0},
            {"origin": "LHR", "destination": "BOS", "date": "2030-06-08", "days": 1},
        ],
        "passengers": {"adults": 1, "children": 1, "infants": 0},
        "cabin": "BUSINESS",
        "channel": "ndc",
        "currency": "EUR",
    }
    assert found == [core.Traveller("A1", "ADULT"), core.Traveller("C1", "CHILD")]


def test_one_criteria_given_as_an_object_is_a_list_of_one() -> None:
    rq = _shopping(_criteria("JFK", "LHR", "2030-06-01"), {"PaxID": "P", "PTC": "ADT"})
    search, _ = core.search_request(rq)
    assert [s["origin"] for s in search["slices"]] == ["JFK"]
    assert search["cabin"] == "ECONOMY"


@pytest.mark.parametrize(
    ("pax", "code", "tag"),
    [
        ([{"PaxID": "A", "PTC": "GBE"}], "143", "PaxList/Pax[0]/PTC"),
        ([{"PaxID": "A", "PTC": "ADT"}, {"PaxID": "A", "PTC": "ADT"}], "476", "Pax[1]/PaxID"),
        ([{"PaxID": "I", "PTC": "INF"}], "143", "PaxList/Pax"),
        ([{"PaxID": f"A{n}", "PTC": "ADT"} for n in range(10)], "68", "PaxList/Pax"),
        (
            [
                {"PaxID": "A", "PTC": "ADT"},
                {"PaxID": "I", "PTC": "INF"},
                {"PaxID": "J", "PTC": "INF"},
            ],
            "324",
            "PaxList/Pax",
        ),
    ],
)
def test_a_party_the_engine_cannot_seat_is_refused_naming_the_element(
    pax: list[dict[str, str]], code: str, tag: str
) -> None:
    rq = _shopping([_criteria("JFK", "LHR", "2030-06-01")], pax)
    with pytest.raises(Invalid) as refused:
        core.search_request(rq)
    [error] = core.errors(422, refused.value.detail, [e.as_dict() for e in refused.value.errors])
    assert error["Code"] == code
    assert error["TagText"].startswith("IATA_AirShoppingRQ/Request/")
    assert error["TagText"].endswith(tag)


def test_unsupported_criteria_are_refused_naming_them() -> None:
    rq = _shopping(
        [
            _criteria("JFK", "JFK", "2030-06-01", CabinType={"CabinTypeCode": "3"}),
            _criteria(
                "LHR",
                "JFK",
                "2030-06-08",
                CalendarDateCriteria={"DaysBeforeNumber": 0, "DaysAfterNumber": 2},
            ),
        ],
        ADULT_CHILD,
    )
    with pytest.raises(Invalid) as refused:
        core.search_request(rq)
    tags = [core.tag_text(e.loc) for e in refused.value.errors]
    base = "IATA_AirShoppingRQ/Request/FlightRequest/FlightRequestOriginDestinationsCriteria"
    assert tags == [
        f"{base}/OriginDestCriteria[0]/DestArrivalCriteria/IATA_LocationCode",
        f"{base}/OriginDestCriteria[0]/CabinType/CabinTypeCode",
        f"{base}/OriginDestCriteria[1]/CalendarDateCriteria",
    ]


def test_an_unknown_element_is_an_error_saying_it_is_not_supported() -> None:
    with pytest.raises(Invalid) as refused:
        _shopping([_criteria("JFK", "LHR", "2030-06-01")], ADULT_CHILD, ShoppingCriteria={})
    [error] = core.errors(422, "", [e.as_dict() for e in refused.value.errors])
    assert error == {
        "Code": "914",
        "DescText": "not supported by this engine (docs/ndc.md)",
        "LangCode": "EN",
        "TagText": "IATA_AirShoppingRQ/Request/ShoppingCriteria",
        "TypeCode": "NotProcessed",
    }


def test_an_error_with_no_field_takes_its_code_from_the_status() -> None:
    assert core.errors(503, "down", []) == [
        {
            "Code": "911",
            "DescText": "down",
            "LangCode": "EN",
            "TypeCode": "Retry",
        }
    ]
    assert core.errors(401, "no key", [])[0]["Code"] == "111"


def _flight(number: str, origin: str, destination: str, day: str) -> dict[str, Any]:
    return {
        "flight_id": f"id-{number}",
        "carrier": "OE",
        "flight_number": number,
        "origin": origin,
        "destination": destination,
        "departure_local": f"{day}T08:00",
        "arrival_local": f"{day}T10:30",
        "departure_at": f"{day}T08:00:00+00:00",
        "arrival_at": f"{day}T10:30:00+00:00",
    }


def _round_trip_offer() -> dict[str, Any]:
    out = [_flight("1", "BOS", "JFK", "2030-06-01"), _flight("2", "JFK", "LHR", "2030-06-01")]
    out[1] |= {
        "departure_at": "2030-06-01T12:00:00+00:00",
        "arrival_at": "2030-06-01T20:00:00+00:00",
    }
    back = [_flight("3", "LHR", "BOS", "2030-06-08")]
    items = [
        {
            "item_id": f"s{s}-{g}-flight",
            "type": "FLIGHT",
            "required": True,
            "product_code": "FARE",
            "flight": flight,
            "slice": s,
            "segment": g,
            "passengers": [{"type": "ADULT", "count": 2, "unit_price": "50.00"}],
            "price": {"total": "100.00", "discount": "0.00"},
        }
        for s, flights in ((1, out), (2, back))
        for g, flight in enumerate(flights, 1)
    ]
    items.append(
        {
            "item_id": "extra-1",
            "type": "BAG",
            "required": False,
            "product_code": "BAG-23KG",
            "name": "Checked bag",
            "passengers": [{"type": "ADULT", "count": 2, "unit_price": "20.00"}],
            "price": {"total": "40.00", "discount": "0.00"},
        }
    )
    return {
        "offer_id": OFFER_ID,
        "search_id": "s" * 32,
        "cabin": "ECONOMY",
        "currency": "USD",
        "expires_at": "2030-05-01T00:15:00+00:00",
        "slices": [{"segments": out}, {"segments": back}],
        "items": items,
        "price": {
            "tax_total": "30.00",
            "total": "370.00",
            "taxes": [
                {"code": "US", "name": "US fee", "amount": "20.00", "slice": 1, "segment": 1},
                {"code": "GB", "name": "GB duty", "amount": "10.00", "slice": 2, "segment": 1},
            ],
            "per_passenger": [{"type": "ADULT", "count": 2, "total": "185.00"}],
        },
    }


TWO = [core.Traveller("A1", "ADULT"), core.Traveller("A2", "ADULT")]


def test_an_offer_lists_its_journeys_segments_and_one_service_per_passenger() -> None:
    lists = core.DataLists("ECONOMY", TWO)
    shown = core.offer(_round_trip_offer(), lists, owner="OE")
    rendered = lists.render()
    journeys = rendered["PaxJourneyList"]["PaxJourney"]
    assert [j["PaxSegmentRefID"] for j in journeys] == [["SEG1", "SEG2"], ["SEG3"]]
    assert journeys[0]["Duration"] == "PT12H0M"
    assert [
        od["OriginCode"] + od["DestCode"] for od in rendered["OriginDestList"]["OriginDest"]
    ] == [
        "BOSLHR",
        "LHRBOS",
    ]
    assert [i["OfferItemID"] for i in shown["OfferItem"]] == [
        f"{OFFER_ID}-s1-1-flight",
        f"{OFFER_ID}-s1-2-flight",
        f"{OFFER_ID}-s2-1-flight",
        f"{OFFER_ID}-extra-1",
    ]
    bag = shown["OfferItem"][3]
    assert bag["MandatoryInd"] is False
    assert [s["PaxRefID"] for s in bag["Service"]] == ["A1", "A2"]
    link = bag["Service"][0]["OfferServiceAssociation"]["ServiceDefinitionRef"]
    assert link["ServiceDefinitionRefID"] == "BAG-23KG"
    assert link["OfferFlightAssociations"]["PaxSegmentReferences"]["PaxSegmentRefID"] == [
        "SEG1",
        "SEG2",
        "SEG3",
    ]
    assert rendered["ServiceDefinitionList"]["ServiceDefinition"][0]["Name"] == "Checked bag"


def test_the_items_add_up_to_the_total_price_with_each_tax_on_its_segment() -> None:
    shown = core.offer(_round_trip_offer(), core.DataLists("ECONOMY", TWO), owner="OE")
    totals = [Decimal(i["Price"]["TotalAmount"]["value"]) for i in shown["OfferItem"]]
    assert totals == [Decimal("120.00"), Decimal("100.00"), Decimal("110.00"), Decimal("40.00")]
    assert sum(totals) == Decimal(shown["TotalPrice"]["TotalAmount"]["value"]) == Decimal("370.00")
    taxes = shown["OfferItem"][0]["Price"]["TaxSummary"][0]["Tax"]
    assert [t["TaxCode"] for t in taxes] == ["US"]


@given(item_id=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=30))
def test_an_offer_item_id_takes_a_client_back_to_its_item(item_id: str) -> None:
    offer = _round_trip_offer()
    offer["items"] = [{**offer["items"][0], "item_id": item_id}]
    selected = validate(
        ndc.NdcSelectedOffer,
        {
            "OfferRefID": OFFER_ID,
            "SelectedOfferItem": {
                "OfferItemRefID": core.offer_item_id(OFFER_ID, item_id),
                "PaxRefID": ["A1", "A2"],
            },
        },
    )
    chosen = core.select(selected, offer, TWO, owner="OE", at=())
    assert chosen.item_ids == (item_id,)


def _selected(*items: str, **more: Any) -> ndc.NdcSelectedOffer:
    return validate(
        ndc.NdcSelectedOffer,
        {
            "OfferRefID": OFFER_ID,
            "SelectedOfferItem": [
                {"OfferItemRefID": f"{OFFER_ID}-{i}", "PaxRefID": ["A1", "A2"]} for i in items
            ],
            **more,
        },
    )


FLIGHTS = ("s1-1-flight", "s1-2-flight", "s2-1-flight")


def test_a_selection_keeps_the_optional_items_chosen_and_must_take_the_mandatory_ones() -> None:
    offer = _round_trip_offer()
    chosen = core.select(_selected(*FLIGHTS), offer, TWO, owner="OE", at=())
    assert chosen.optional_ids == ()
    assert core.selected_total(offer, chosen.item_ids) == Decimal("330.00")
    with pytest.raises(Invalid) as refused:
        core.select(_selected("s1-1-flight", "extra-1"), offer, TWO, owner="OE", at=())
    assert "mandatory" in refused.value.detail
    with pytest.raises(Invalid) as refused:
        core.select(_selected(*FLIGHTS, "extra-9"), offer, TWO, owner="OE", at=("x",))
    assert refused.value.errors[0].loc == ("x", "SelectedOfferItem", 3, "OfferItemRefID")


def test_a_selection_names_a_stranger_pax_another_owner_and_an_old_price() -> None:
    offer = _round_trip_offer()
    with pytest.raises(Invalid) as refused:
        core.select(_selected(*FLIGHTS, OwnerCode="ZZ"), offer, TWO[:1], owner="OE", at=())
    assert {e.type for e in refused.value.errors} == {"owner_code", "missing"}
    with pytest.raises(Conflict) as changed:
        core.check_price(
            _selected(*FLIGHTS, TotalOfferPriceAmount={"CurCode": "USD", "value": "300.00"}),
            offer,
            Decimal("330.00"),
            (),
        )
    assert changed.value.errors[0].type == "price_changed"
    stranger = validate(
        ndc.NdcSelectedOffer,
        {"OfferRefID": "nope", "SelectedOfferItem": {"OfferItemRefID": "x", "PaxRefID": "A1"}},
    )
    with pytest.raises(NotFound):
        core.offer_ref(stranger, ())


def test_an_order_create_maps_passengers_contacts_and_optional_items() -> None:
    rq = validate(
        ndc.OrderCreateRQ,
        {
            "IATA_OrderCreateRQ": {
                "Request": {
                    "CreateOrder": {
                        "AcceptSelectedQuotedOfferList": {
                            "SelectedPricedOffer": _selected(*FLIGHTS, "extra-1").model_dump(
                                by_alias=True, exclude_none=True, mode="json"
                            )
                        }
                    },
                    "DataLists": {
                        "ContactInfoList": {
                            "ContactInfo": {
                                "ContactInfoID": "C",
                                "EmailAddress": {"EmailAddressText": "ada@example.com"},
                                "Phone": {"PhoneNumber": "5550100", "CountryDialingCode": "1"},
                            }
                        },
                        "PaxList": {
                            "Pax": [
                                {
                                    "PaxID": "A1",
                                    "PTC": "ADT",
                                    "Individual": {
                                        "GivenName": ["Augusta", "Ada"],
                                        "Surname": "King",
                                        "Birthdate": "1985-12-10",
                                    },
                                    "ContactInfoRefID": "C",
                                    "LoyaltyProgramAccount": {"AccountNumber": "SKY1"},
                                },
                                {
                                    "PaxID": "A2",
                                    "PTC": "ADT",
                                    "Individual": {"GivenName": "William", "Surname": "King"},
                                },
                            ]
                        },
                    },
                }
            }
        },
    )
    order = core.order_request(rq, _round_trip_offer(), owner="OE")
    assert order == {
        "offer_id": OFFER_ID,
        "passengers": [
            {
                "type": "ADULT",
                "given_name": "Augusta Ada",
                "surname": "King",
                "birth_date": "1985-12-10",
                "email": "ada@example.com",
                "phone": "+1 5550100",
                "loyalty_number": "SKY1",
            },
            {"type": "ADULT", "given_name": "William", "surname": "King"},
        ],
        "selected_optional_items": ["extra-1"],
    }


def test_an_order_view_numbers_its_passengers_and_closes_when_cancelled() -> None:
    offer = _round_trip_offer()
    order = {
        "id": "6f1c2b1e-0000-4000-8000-000000000001",
        "status": "CANCELLED",
        "currency": "USD",
        "total": "370.00",
        "created_at": "2030-05-01T00:00:00Z",
        "hold_expires_at": "2030-05-01T00:15:00Z",
        "passengers": [
            {"type": "ADULT", "given_name": "Ada", "surname": "King", "email": "a@b.co"},
            {"type": "ADULT", "given_name": "William", "surname": "King"},
        ],
        "items": offer["items"],
        "price": offer["price"],
    }
    view = core.order_view(order, owner="OE")
    assert view["Order"]["StatusCode"] == "CLOSED"
    assert [p["PaxID"] for p in view["DataLists"]["PaxList"]["Pax"]] == ["PAX1", "PAX2"]
    assert view["DataLists"]["ContactInfoList"]["ContactInfo"][0]["EmailAddress"] == [
        {"EmailAddressText": "a@b.co"}
    ]
    items = view["Order"]["OrderItem"]
    assert items[0]["OrderItemID"] == f"{order['id']}-s1-1-flight"
    assert {i["StatusCode"] for i in items} == {"CANCELLED"}
    assert "PaymentTimeLimitDateTime" not in view["Order"]
    assert sum(Decimal(i["Price"]["TotalAmount"]["value"]) for i in items) == Decimal("370.00")
