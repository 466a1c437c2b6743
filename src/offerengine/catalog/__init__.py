"""The product catalog: flights' fare products, ancillaries, marketplace items."""
