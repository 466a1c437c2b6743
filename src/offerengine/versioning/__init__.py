"""Immutable version history and the audit log, one mechanism for every configuration type."""
