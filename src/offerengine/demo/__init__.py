"""Demo tenants: the airline OE and the marketplace MKT. One place; later capabilities extend it."""
