"""The JSON renditions of IATA NDC 21.3's messages that the engine takes and answers.

Element names are NDC's (``IATA_AirShoppingRQ``, ``OriginDestCriteria``, ``OfferItemRefID`` …);
the Python names are their snake-case twins, and every model reads and writes the NDC names
(aliases). An element that may repeat in NDC's XSD is a JSON array, and a single object is taken
for an array of one (what XML-to-JSON converters write). An amount is ``{"CurCode", "value"}``
with the value as a decimal string. Elements the engine does not interpret are refused with an
error naming them (``extra="forbid"``), except the envelope's ``DistributionChain``, ``POS``,
``Party``, ``MessageDoc`` and ``AugmentationPoint``, which are taken and ignored, and
``PayloadAttributes``, whose ids are echoed back (docs/ndc.md).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, StringConstraints

from offerengine.fields import IsoDate

T = TypeVar("T")
Iata = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CurCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Opaque = dict[str, JsonValue] | list[JsonValue] | None


def _listed(value: Any) -> Any:
    """One element where NDC allows several: an array of one."""
    return [value] if isinstance(value, dict | str) else value


# An element that repeats in NDC's XSD: an array, or one object for an array of one.
Many = Annotated[list[T], BeforeValidator(_listed)]


class Element(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NdcAmount(Element):
    cur_code: CurCode = Field(alias="CurCode", examples=["USD"])
    value: Decimal = Field(ge=0, max_digits=15, decimal_places=4, examples=["550.00"])


class NdcPayloadAttributes(BaseModel):
    """Echoed back in the answer: ``CorrelationID``, ``EchoTokenText``, ``TrxID``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    correlation_id: Ref | None = Field(default=None, alias="CorrelationID")
    echo_token_text: Ref | None = Field(default=None, alias="EchoTokenText")
    trx_id: Ref | None = Field(default=None, alias="TrxID")
    version_number: Annotated[str, StringConstraints(max_length=20)] | None = Field(
        default=None, alias="VersionNumber", examples=["21.3"]
    )


class Message(Element):
    """What every request message may carry besides its ``Request``."""

    distribution_chain: Opaque = Field(default=None, alias="DistributionChain")
    payload_attributes: NdcPayloadAttributes | None = Field(default=None, alias="PayloadAttributes")
    pos: Opaque = Field(default=None, alias="POS")
    party: Opaque = Field(default=None, alias="Party")
    message_doc: Opaque = Field(default=None, alias="MessageDoc")
    augmentation_point: Opaque = Field(default=None, alias="AugmentationPoint")


# --- AirShopping -----------------------------------------------------------------------------------


class NdcOriginDepCriteria(Element):
    iata_location_code: Iata = Field(alias="IATA_LocationCode", examples=["JFK"])
    date: IsoDate = Field(alias="Date", description="Local departure date at the origin.")


class NdcDestArrivalCriteria(Element):
    iata_location_code: Iata = Field(alias="IATA_LocationCode", examples=["LHR"])


class NdcCabinType(Element):
    cabin_type_code: Annotated[str, StringConstraints(max_length=2)] = Field(
        alias="CabinTypeCode",
        description="IATA cabin code: 1 First, 2 Business, 4 Premium economy, 5 Economy.",
        examples=["5"],
    )
    cabin_type_name: Annotated[str, StringConstraints(max_length=50)] | None = Field(
        default=None, alias="CabinTypeName"
    )
    pref_level: Opaque = Field(default=None, alias="PrefLevel")


class NdcCalendarDateCriteria(Element):
    days_before_number: int = Field(default=0, ge=0, le=3, alias="DaysBeforeNumber")
    days_after_number: int = Field(default=0, ge=0, le=3, alias="DaysAfterNumber")


class NdcOriginDestCriteria(Element):
    origin_dest_id: Ref | None = Field(default=None, alias="OriginDestID")
    origin_dep_criteria: NdcOriginDepCriteria = Field(alias="OriginDepCriteria")
    dest_arrival_criteria: NdcDestArrivalCriteria = Field(alias="DestArrivalCriteria")
    cabin_type: NdcCabinType | None = Field(default=None, alias="CabinType")
    calendar_date_criteria: NdcCalendarDateCriteria | None = Field(
        default=None, alias="CalendarDateCriteria"
    )


class NdcOriginDestinationsCriteria(Element):
    origin_dest_criteria: Many[NdcOriginDestCriteria] = Field(
        alias="OriginDestCriteria", min_length=1, max_length=4
    )


class NdcFlightRequest(Element):
    criteria: NdcOriginDestinationsCriteria = Field(alias="FlightRequestOriginDestinationsCriteria")


class NdcPax(Element):
    pax_id: Ref = Field(alias="PaxID", examples=["PAX1"])
    ptc: Annotated[str, StringConstraints(max_length=3)] = Field(
        alias="PTC", description="ADT, CHD (or CNN) or INF.", examples=["ADT"]
    )


class NdcPaxList(Element):
    pax: Many[NdcPax] = Field(alias="Pax", min_length=1, max_length=18)


class NdcCurParameter(Element):
    cur_code: CurCode = Field(alias="CurCode", examples=["USD"])


class NdcResponseParameters(Element):
    cur_parameter: NdcCurParameter | None = Field(default=None, alias="CurParameter")


class AirShoppingRequest(Element):
    flight_request: NdcFlightRequest = Field(alias="FlightRequest")
    pax_list: NdcPaxList = Field(alias="PaxList")
    response_parameters: NdcResponseParameters | None = Field(
        default=None, alias="ResponseParameters"
    )


class AirShoppingMessage(Message):
    request: AirShoppingRequest = Field(alias="Request")


class AirShoppingRQ(Element):
    """``POST /v1/ndc/air-shopping``: NDC 21.3 AirShoppingRQ, as JSON."""

    message: AirShoppingMessage = Field(alias="IATA_AirShoppingRQ")


# --- OfferPrice and the selection of an offer ----------------------------------------------------


class NdcSelectedOfferItem(Element):
    offer_item_ref_id: Ref = Field(alias="OfferItemRefID")
    pax_ref_id: Many[Ref] = Field(alias="PaxRefID", min_length=1, max_length=18)


class NdcSelectedOffer(Element):
    offer_ref_id: Ref = Field(alias="OfferRefID")
    owner_code: Annotated[str, StringConstraints(max_length=3)] | None = Field(
        default=None, alias="OwnerCode"
    )
    shopping_response_ref_id: Ref | None = Field(default=None, alias="ShoppingResponseRefID")
    selected_offer_item: Many[NdcSelectedOfferItem] = Field(
        alias="SelectedOfferItem", min_length=1, max_length=50
    )
    total_offer_price_amount: NdcAmount | None = Field(
        default=None,
        alias="TotalOfferPriceAmount",
        description="The price the seller expects: a different current price is refused.",
    )


class NdcSelectedOfferList(Element):
    selected_offer: Many[NdcSelectedOffer] = Field(
        alias="SelectedOffer", min_length=1, max_length=1
    )


class NdcPricedOffer(Element):
    selected_offer_list: NdcSelectedOfferList = Field(alias="SelectedOfferList")


class NdcPaxDataLists(Element):
    pax_list: NdcPaxList = Field(alias="PaxList")


class OfferPriceRequest(Element):
    data_lists: NdcPaxDataLists | None = Field(default=None, alias="DataLists")
    priced_offer: NdcPricedOffer = Field(alias="PricedOffer")


class OfferPriceMessage(Message):
    request: OfferPriceRequest = Field(alias="Request")


class OfferPriceRQ(Element):
    """``POST /v1/ndc/offer-price``: NDC 21.3 OfferPriceRQ, as JSON."""

    message: OfferPriceMessage = Field(alias="IATA_OfferPriceRQ")


# --- OrderCreate ---------------------------------------------------------------------------------


class NdcIndividual(Element):
    given_name: Many[Name] = Field(alias="GivenName", min_length=1, max_length=5)
    surname: Name = Field(alias="Surname")
    birthdate: IsoDate | None = Field(default=None, alias="Birthdate")
    gender_code: Annotated[str, StringConstraints(max_length=1)] | None = Field(
        default=None, alias="GenderCode"
    )
    title_name: Annotated[str, StringConstraints(max_length=20)] | None = Field(
        default=None, alias="TitleName"
    )


class NdcLoyaltyProgramAccount(Element):
    account_number: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        alias="AccountNumber"
    )
    loyalty_program: Opaque = Field(default=None, alias="LoyaltyProgram")


class NdcOrderPax(Element):
    pax_id: Ref = Field(alias="PaxID")
    ptc: Annotated[str, StringConstraints(max_length=3)] = Field(alias="PTC")
    individual: NdcIndividual = Field(alias="Individual")
    contact_info_ref_id: Many[Ref] | None = Field(
        default=None, alias="ContactInfoRefID", max_length=5
    )
    loyalty_program_account: Many[NdcLoyaltyProgramAccount] | None = Field(
        default=None, alias="LoyaltyProgramAccount", max_length=1
    )


class NdcEmailAddress(Element):
    email_address_text: Annotated[str, StringConstraints(max_length=200)] = Field(
        alias="EmailAddressText"
    )


class NdcPhone(Element):
    phone_number: Annotated[str, StringConstraints(min_length=1, max_length=30)] = Field(
        alias="PhoneNumber"
    )
    country_dialing_code: Annotated[str, StringConstraints(max_length=5)] | None = Field(
        default=None, alias="CountryDialingCode"
    )
    contact_type_text: Annotated[str, StringConstraints(max_length=20)] | None = Field(
        default=None, alias="ContactTypeText"
    )


class NdcContactInfo(Element):
    contact_info_id: Ref = Field(alias="ContactInfoID")
    email_address: Many[NdcEmailAddress] | None = Field(
        default=None, alias="EmailAddress", max_length=1
    )
    phone: Many[NdcPhone] | None = Field(default=None, alias="Phone", max_length=1)


class NdcContactInfoList(Element):
    contact_info: Many[NdcContactInfo] = Field(alias="ContactInfo", min_length=1, max_length=18)


class NdcOrderPaxList(Element):
    pax: Many[NdcOrderPax] = Field(alias="Pax", min_length=1, max_length=18)


class NdcOrderDataLists(Element):
    pax_list: NdcOrderPaxList = Field(alias="PaxList")
    contact_info_list: NdcContactInfoList | None = Field(default=None, alias="ContactInfoList")


class NdcAcceptSelectedQuotedOfferList(Element):
    selected_priced_offer: Many[NdcSelectedOffer] = Field(
        alias="SelectedPricedOffer", min_length=1, max_length=1
    )


class NdcCreateOrder(Element):
    """The offer to order: ``AcceptSelectedQuotedOfferList`` (a priced offer) or
    ``SelectedOffer``; one of them."""

    accepted: NdcAcceptSelectedQuotedOfferList | None = Field(
        default=None, alias="AcceptSelectedQuotedOfferList"
    )
    selected_offer: Many[NdcSelectedOffer] | None = Field(
        default=None, alias="SelectedOffer", min_length=1, max_length=1
    )


class OrderCreateRequest(Element):
    create_order: NdcCreateOrder = Field(alias="CreateOrder")
    data_lists: NdcOrderDataLists = Field(alias="DataLists")


class OrderCreateMessage(Message):
    request: OrderCreateRequest = Field(alias="Request")


class OrderCreateRQ(Element):
    """``POST /v1/ndc/order-create``: NDC 21.3 OrderCreateRQ, as JSON."""

    message: OrderCreateMessage = Field(alias="IATA_OrderCreateRQ")


# --- OrderRetrieve and OrderCancel ---------------------------------------------------------------


class NdcOrderRef(Element):
    order_id: uuid.UUID = Field(alias="OrderID")
    owner_code: Annotated[str, StringConstraints(max_length=3)] | None = Field(
        default=None, alias="OwnerCode"
    )


class NdcOrderValidationFilterCriteria(Element):
    order_filter_criteria: NdcOrderRef = Field(alias="OrderFilterCriteria")


class OrderRetrieveRequest(Element):
    criteria: NdcOrderValidationFilterCriteria = Field(alias="OrderValidationFilterCriteria")


class OrderRetrieveMessage(Message):
    request: OrderRetrieveRequest = Field(alias="Request")


class OrderRetrieveRQ(Element):
    """``POST /v1/ndc/order-retrieve``: NDC 21.3 OrderRetrieveRQ, as JSON."""

    message: OrderRetrieveMessage = Field(alias="IATA_OrderRetrieveRQ")


class OrderCancelRequest(Element):
    order: NdcOrderRef = Field(alias="Order")


class OrderCancelMessage(Message):
    request: OrderCancelRequest = Field(alias="Request")


class OrderCancelRQ(Element):
    """``POST /v1/ndc/order-cancel``: NDC 21.3 OrderCancelRQ, as JSON."""

    message: OrderCancelMessage = Field(alias="IATA_OrderCancelRQ")


# --- answers (documentation: their content is described in docs/ndc.md) --------------------------


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AirShoppingRS(Answer):
    message: dict[str, Any] = Field(
        alias="IATA_AirShoppingRS",
        description="PayloadAttributes, and Response: DataLists (PaxList, OriginDestList, "
        "PaxJourneyList, PaxSegmentList, DatedMarketingSegmentList, ServiceDefinitionList), "
        "OffersGroup.CarrierOffers[].Offer[], ShoppingResponse.",
    )


class OfferPriceRS(Answer):
    message: dict[str, Any] = Field(
        alias="IATA_OfferPriceRS",
        description="PayloadAttributes, and Response: DataLists and PricedOffer (the selected "
        "offer items, priced now), with a Warning when the price changed.",
    )


class OrderViewRS(Answer):
    message: dict[str, Any] = Field(
        alias="IATA_OrderViewRS",
        description="PayloadAttributes, and Response: DataLists (PaxList, ContactInfoList, "
        "journeys and segments) and Order (OrderID, StatusCode, OrderItem[], TotalPrice).",
    )


class OrderCancelRS(Answer):
    message: dict[str, Any] = Field(
        alias="IATA_OrderCancelRS",
        description="PayloadAttributes, and Response: OrderRefID and the Order as cancelled.",
    )
