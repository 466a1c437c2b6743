"""NDC 21.3 messages end to end over HTTP, on SQLite and PostgreSQL: an NDC client shops a round
trip, prices the offer it was shown, orders it, retrieves the order and cancels it, with the ids
it was given; what it sends wrong is refused with NDC errors naming the element, changing
nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.helpers import FARE, Api, add_flight, create_key, departure_day, problem, tenant_api

OUT = departure_day(10)
BACK = (date.fromisoformat(OUT) + timedelta(days=7)).isoformat()
PAX = [{"PaxID": "ADULT_1", "PTC": "ADT"}, {"PaxID": "CHILD_1", "PTC": "CHD"}]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def airline(client: TestClient) -> tuple[Api, dict[str, str]]:
    """OE flies JFK→LHR nonstop and back via BOS a week later; flights only. Its runtime key,
    and the flights' ids by number."""
    owner = tenant_api(client, "OE")
    assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
    rules = {"max_offers": 10, "offer_types": [{"type": "FLIGHT_ONLY", "always_include": True}]}
    assert owner.put("/v1/admin/tenants/OE/offer-rules", json=rules).status_code == 200
    out = add_flight(owner, "OE", day=OUT, number="100", cabins={"ECONOMY": 20})
    legs = [("201", "LHR", "BOS", "08:00", "10:45"), ("202", "BOS", "JFK", "13:00", "14:20")]
    ids = {"100": str(out["id"])}
    for number, origin, destination, leaves, lands in legs:
        flight = add_flight(
            owner,
            "OE",
            day=BACK,
            number=number,
            origin=origin,
            destination=destination,
            departure_local=f"{BACK}T{leaves}:00",
            arrival_local=f"{BACK}T{lands}:00",
            cabins={"ECONOMY": 20},
        )
        ids[number] = str(flight["id"])
    return Api(client, create_key(client, "OE", "runtime")), ids


def _shopping(pax: list[dict[str, str]] = PAX, **request: Any) -> dict[str, Any]:
    criteria = [
        {
            "OriginDepCriteria": {"IATA_LocationCode": "JFK", "Date": OUT},
            "DestArrivalCriteria": {"IATA_LocationCode": "LHR"},
            "CabinType": {"CabinTypeCode": "5"},
        },
        {
            "OriginDepCriteria": {"IATA_LocationCode": "LHR", "Date": BACK},
            "DestArrivalCriteria": {"IATA_LocationCode": "JFK"},
        },
    ]
    return {
        "IATA_AirShoppingRQ": {
            "PayloadAttributes": {"CorrelationID": "corr-1", "VersionNumber": "21.3"},
            "DistributionChain": {"DistributionChainLink": [{"Ordinal": 1, "OrgRole": "Seller"}]},
            "Request": {
                "FlightRequest": {
                    "FlightRequestOriginDestinationsCriteria": {"OriginDestCriteria": criteria}
                },
                "PaxList": {"Pax": pax},
                **request,
            },
        }
    }


def _selected(offer: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "OfferRefID": offer["OfferID"],
        "OwnerCode": "OE",
        "SelectedOfferItem": [
            {"OfferItemRefID": i["OfferItemID"], "PaxRefID": ["ADULT_1", "CHILD_1"]}
            for i in offer["OfferItem"]
        ],
        **more,
    }


def _order_create(selected: dict[str, Any]) -> dict[str, Any]:
    return {
        "IATA_OrderCreateRQ": {
            "Request": {
                "CreateOrder": {
                    "AcceptSelectedQuotedOfferList": {"SelectedPricedOffer": [selected]}
                },
                "DataLists": {
                    "ContactInfoList": {
                        "ContactInfo": [
                            {
                                "ContactInfoID": "CI1",
                                "EmailAddress": {"EmailAddressText": "ada@example.com"},
                            }
                        ]
                    },
                    "PaxList": {
                        "Pax": [
                            {
                                "PaxID": "ADULT_1",
                                "PTC": "ADT",
                                "Individual": {"GivenName": ["Ada"], "Surname": "Lovelace"},
                                "ContactInfoRefID": ["CI1"],
                            },
                            {
                                "PaxID": "CHILD_1",
                                "PTC": "CHD",
                                "Individual": {
                                    "GivenName": "Byron",
                                    "Surname": "King",
                                    "Birthdate": "2018-05-01",
                                },
                            },
                        ]
                    },
                },
            }
        }
    }


def _offers(runtime: Api) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    response = runtime.post("/v1/ndc/air-shopping", json=_shopping())
    assert response.status_code == 200, response.text
    rs = response.json()["IATA_AirShoppingRS"]
    assert rs["PayloadAttributes"]["CorrelationID"] == "corr-1"
    return rs["Response"], rs["Response"]["OffersGroup"]["CarrierOffers"][0]["Offer"]


def _seats(runtime: Api, flight_id: str) -> tuple[int, int]:
    response = runtime.get(f"/v1/inventory/flights/{flight_id}")
    assert response.status_code == 200, response.text
    [economy] = [c for c in response.json()["cabins"] if c["resource"] == "ECONOMY"]
    return economy["held"], economy["sold"]


def _ndc_errors(response: Any, status: int, root: str) -> list[dict[str, Any]]:
    body = problem(response, status)
    return list(body[root]["Error"])


def test_an_ndc_client_shops_prices_orders_retrieves_and_cancels_with_the_ids_it_was_given(
    airline: tuple[Api, dict[str, str]],
) -> None:
    runtime, flights = airline
    response, offers = _offers(runtime)
    lists = response["DataLists"]
    segments = {s["PaxSegmentID"]: s for s in lists["PaxSegmentList"]["PaxSegment"]}
    marketing = {
        m["DatedMarketingSegmentId"]: m
        for m in lists["DatedMarketingSegmentList"]["DatedMarketingSegment"]
    }

    def numbers(journey_id: str) -> list[str]:
        journey = next(
            j for j in lists["PaxJourneyList"]["PaxJourney"] if j["PaxJourneyID"] == journey_id
        )
        return [
            marketing[segments[s]["DatedMarketingSegmentRefId"]]["MarketingCarrierFlightNumberText"]
            for s in journey["PaxSegmentRefID"]
        ]

    ods = lists["OriginDestList"]["OriginDest"]
    assert [(od["OriginCode"], od["DestCode"]) for od in ods] == [("JFK", "LHR"), ("LHR", "JFK")]
    assert [numbers(j) for od in ods for j in od["PaxJourneyRefID"]] == [["100"], ["201", "202"]]
    assert lists["PaxList"]["Pax"] == PAX
    offer = offers[0]
    assert offer["OwnerCode"] == "OE"
    assert {s["PaxRefID"] for i in offer["OfferItem"] for s in i["Service"]} == {
        "ADULT_1",
        "CHILD_1",
    }
    total = offer["TotalPrice"]["TotalAmount"]
    items = sum(Decimal(i["Price"]["TotalAmount"]["value"]) for i in offer["OfferItem"])
    assert items == Decimal(total["value"])

    # OfferPrice with the ids from AirShoppingRS: the same price, nothing changed.
    priced = runtime.post(
        "/v1/ndc/offer-price",
        json={
            "IATA_OfferPriceRQ": {
                "Request": {
                    "DataLists": {"PaxList": {"Pax": PAX}},
                    "PricedOffer": {"SelectedOfferList": {"SelectedOffer": [_selected(offer)]}},
                }
            }
        },
    )
    assert priced.status_code == 200, priced.text
    priced_offer = priced.json()["IATA_OfferPriceRS"]["Response"]["PricedOffer"]
    assert priced_offer["OfferID"] == offer["OfferID"]
    assert priced_offer["TotalPrice"]["TotalAmount"] == total
    assert "Warning" not in priced.json()["IATA_OfferPriceRS"]["Response"]

    # OrderCreate: HELD, every segment of both journeys held for both passengers.
    selected = _selected(offer, TotalOfferPriceAmount=total)
    created = runtime.post("/v1/ndc/order-create", json=_order_create(selected))
    assert created.status_code == 201, created.text
    order = created.json()["IATA_OrderViewRS"]["Response"]["Order"]
    order_id = order["OrderID"]
    assert order["StatusCode"] == "OPENED"
    assert order["TotalPrice"]["TotalAmount"] == total
    assert "PaymentTimeLimitDateTime" in order
    assert [i["OrderItemID"].removeprefix(f"{order_id}-") for i in order["OrderItem"]] == [
        i["OfferItemID"].removeprefix(f"{offer['OfferID']}-") for i in offer["OfferItem"]
    ]
    assert {_seats(runtime, f) for f in flights.values()} == {(2, 0)}
    engine = runtime.get(f"/v1/orders/{order_id}").json()
    assert engine["status"] == "HELD"
    assert engine["passengers"][0] == {
        "type": "ADULT",
        "given_name": "Ada",
        "surname": "Lovelace",
        "email": "ada@example.com",
    }

    # The same message again is the same order (its own idempotency key), not a second one.
    again = runtime.post("/v1/ndc/order-create", json=_order_create(selected))
    assert again.status_code == 200, again.text
    assert again.json()["IATA_OrderViewRS"]["Response"]["Order"]["OrderID"] == order_id
    assert {_seats(runtime, f) for f in flights.values()} == {(2, 0)}

    retrieve = {
        "IATA_OrderRetrieveRQ": {
            "Request": {
                "OrderValidationFilterCriteria": {
                    "OrderFilterCriteria": {"OrderID": order_id, "OwnerCode": "OE"}
                }
            }
        }
    }
    found = runtime.post("/v1/ndc/order-retrieve", json=retrieve)
    assert found.status_code == 200, found.text
    view = found.json()["IATA_OrderViewRS"]["Response"]
    # Another airline's key finds no such order.
    tenant_api(runtime.client, "ZZ")
    stranger = Api(runtime.client, create_key(runtime.client, "ZZ", "runtime"))
    refused = stranger.post("/v1/ndc/order-retrieve", json=retrieve)
    assert _ndc_errors(refused, 422, "IATA_OrderViewRS")[0]["Code"] == "727"  # OwnerCode OE
    del retrieve["IATA_OrderRetrieveRQ"]["Request"]["OrderValidationFilterCriteria"][
        "OrderFilterCriteria"
    ]["OwnerCode"]
    refused = stranger.post("/v1/ndc/order-retrieve", json=retrieve)
    assert _ndc_errors(refused, 404, "IATA_OrderViewRS")[0]["Code"] == "129"
    assert view["Order"]["OrderItem"] == order["OrderItem"]
    assert [p["Individual"]["Surname"] for p in view["DataLists"]["PaxList"]["Pax"]] == [
        "Lovelace",
        "King",
    ]

    cancel = {"IATA_OrderCancelRQ": {"Request": {"Order": {"OrderID": order_id}}}}
    cancelled = runtime.post("/v1/ndc/order-cancel", json=cancel)
    assert cancelled.status_code == 200, cancelled.text
    rs = cancelled.json()["IATA_OrderCancelRS"]["Response"]
    assert rs["OrderRefID"] == order_id
    assert rs["Order"]["StatusCode"] == "CLOSED"
    assert {_seats(runtime, f) for f in flights.values()} == {(0, 0)}
    found = runtime.post("/v1/ndc/order-retrieve", json=retrieve)
    assert {
        i["StatusCode"] for i in found.json()["IATA_OrderViewRS"]["Response"]["Order"]["OrderItem"]
    } == {"CANCELLED"}
    assert runtime.post("/v1/ndc/order-cancel", json=cancel).status_code == 200


def test_bad_or_unsupported_elements_are_refused_naming_them(
    airline: tuple[Api, dict[str, str]],
) -> None:
    runtime, _ = airline
    bad_ptc = [PAX[0], {"PaxID": "Y1", "PTC": "GBE"}]
    [error] = _ndc_errors(
        runtime.post("/v1/ndc/air-shopping", json=_shopping(bad_ptc)), 422, "IATA_AirShoppingRS"
    )
    assert error["Code"] == "143"
    assert error["TagText"] == "IATA_AirShoppingRQ/Request/PaxList/Pax[1]/PTC"
    [error] = _ndc_errors(
        runtime.post("/v1/ndc/air-shopping", json=_shopping(ShoppingCriteria={})),
        422,
        "IATA_AirShoppingRS",
    )
    assert error["TagText"] == "IATA_AirShoppingRQ/Request/ShoppingCriteria"
    assert "not supported" in error["DescText"]
    unknown = {
        "IATA_OrderRetrieveRQ": {
            "Request": {
                "OrderValidationFilterCriteria": {
                    "OrderFilterCriteria": {"OrderID": "6f1c2b1e-0000-4000-8000-000000000001"}
                }
            }
        }
    }
    [error] = _ndc_errors(
        runtime.post("/v1/ndc/order-retrieve", json=unknown), 404, "IATA_OrderViewRS"
    )
    assert error["Code"] == "129"
    assert error["TagText"].endswith("OrderFilterCriteria/OrderID")
    refused = Api(runtime.client, "oek_not-a-key").post("/v1/ndc/air-shopping", json=_shopping())
    assert _ndc_errors(refused, 401, "IATA_AirShoppingRS")[0]["Code"] == "111"
    broken = runtime.post(
        "/v1/ndc/air-shopping", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert _ndc_errors(broken, 400, "IATA_AirShoppingRS")[0]["Code"] == "914"


def test_an_order_for_another_price_another_party_or_a_strange_item_changes_nothing(
    airline: tuple[Api, dict[str, str]],
) -> None:
    runtime, flights = airline
    _, offers = _offers(runtime)
    offer = offers[0]
    at = "IATA_OrderCreateRQ/Request/CreateOrder/AcceptSelectedQuotedOfferList/SelectedPricedOffer[0]"

    cheaper = _selected(offer, TotalOfferPriceAmount={"CurCode": "USD", "value": "1.00"})
    [error] = _ndc_errors(
        runtime.post("/v1/ndc/order-create", json=_order_create(cheaper)), 409, "IATA_OrderViewRS"
    )
    assert (error["Code"], error["TagText"]) == ("727", f"{at}/TotalOfferPriceAmount")

    strange = _selected(offer)
    strange["SelectedOfferItem"][0]["OfferItemRefID"] = f"{offer['OfferID']}-nothing"
    [error, *_] = _ndc_errors(
        runtime.post("/v1/ndc/order-create", json=_order_create(strange)), 422, "IATA_OrderViewRS"
    )
    assert error["TagText"] == f"{at}/SelectedOfferItem[0]/OfferItemRefID"

    alone = _order_create(_selected(offer))
    pax = alone["IATA_OrderCreateRQ"]["Request"]["DataLists"]["PaxList"]["Pax"]
    pax[1]["PTC"] = "ADT"
    [error] = _ndc_errors(runtime.post("/v1/ndc/order-create", json=alone), 422, "IATA_OrderViewRS")
    assert error["TagText"] == "IATA_OrderCreateRQ/Request/DataLists/PaxList"

    gone = _selected(offer, OfferRefID="0" * 32)
    [error] = _ndc_errors(
        runtime.post("/v1/ndc/order-create", json=_order_create(gone)), 404, "IATA_OrderViewRS"
    )
    assert error["Code"] == "913"

    assert runtime.get("/v1/orders").json()["items"] == []
    assert {_seats(runtime, f) for f in flights.values()} == {(0, 0)}


def test_offer_price_warns_of_a_new_price_and_holds_the_shown_one_as_an_order_does(
    client: TestClient, airline: tuple[Api, dict[str, str]]
) -> None:
    runtime, _ = airline
    _, offers = _offers(runtime)
    offer = offers[0]
    shown = offer["TotalPrice"]["TotalAmount"]
    editor = Api(client, create_key(client, "OE", "editor"))
    rule = {
        "rule_name": "Peak",
        "rule_type": "CUSTOM",
        "product_type": "FLIGHT",
        "conditions": {},
        "adjustments": {"type": "MULTIPLIER", "value": 1.5},
        "priority": 50,
    }
    created = editor.post("/v1/admin/tenants/OE/pricing-rules", json=rule)
    assert created.status_code == 201, created.text

    priced = runtime.post(
        "/v1/ndc/offer-price",
        json={
            "IATA_OfferPriceRQ": {
                "Request": {
                    "PricedOffer": {"SelectedOfferList": {"SelectedOffer": _selected(offer)}}
                }
            }
        },
    )
    # Without DataLists/PaxList the offer's own party is named PAX1, PAX2: ADULT_1 is not one.
    errors = _ndc_errors(priced, 422, "IATA_OfferPriceRS")
    assert errors[0]["TagText"].endswith("SelectedOfferItem[0]/PaxRefID[0]")
    assert {e["Code"] for e in errors} == {"912"}
    selected = _selected(offer)
    for item in selected["SelectedOfferItem"]:
        item["PaxRefID"] = ["PAX1", "PAX2"]
    priced = runtime.post(
        "/v1/ndc/offer-price",
        json={
            "IATA_OfferPriceRQ": {
                "Request": {"PricedOffer": {"SelectedOfferList": {"SelectedOffer": selected}}}
            }
        },
    )
    assert priced.status_code == 200, priced.text
    response = priced.json()["IATA_OfferPriceRS"]["Response"]
    # The offer keeps its shown price until it expires: what OfferPrice says, an order charges.
    assert response["PricedOffer"]["TotalPrice"]["TotalAmount"] == shown
    [warning] = response["Warning"]
    assert warning["Code"] == "OF1001"
    today = Decimal(shown["value"]) * Decimal("1.5")
    assert f"Priced now the offer would be {today:.2f} USD" in warning["DescText"]

    moved = {"CurCode": "USD", "value": f"{today:.2f}"}
    stale = _selected(offer, TotalOfferPriceAmount=moved)
    [error] = _ndc_errors(
        runtime.post("/v1/ndc/order-create", json=_order_create(stale)), 409, "IATA_OrderViewRS"
    )
    assert error["Code"] == "727"
    assert shown["value"] in error["DescText"]
    held = runtime.post(
        "/v1/ndc/order-create", json=_order_create(_selected(offer, TotalOfferPriceAmount=shown))
    )
    assert held.status_code == 201, held.text
    assert (
        held.json()["IATA_OrderViewRS"]["Response"]["Order"]["TotalPrice"]["TotalAmount"] == shown
    )
