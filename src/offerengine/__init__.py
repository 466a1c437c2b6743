"""OfferEngine: a multi-tenant offer management and decisioning engine."""

__version__ = "0.1.0"
