"""Marketplace quotes and commissions: commission rates, fee and tax rules, coupons, and the quote
that prices a basket with every step explained (seed 002, docs/quotes.md)."""
