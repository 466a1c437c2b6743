"""NDC-shaped distribution: JSON renditions of IATA NDC 21.3's AirShopping, OfferPrice,
OrderCreate, OrderRetrieve and OrderCancel, mapped onto the engine's search, reprice and orders
(docs/ndc.md)."""
