"""Compiled per-tenant configuration snapshots and how workers learn that they changed."""
