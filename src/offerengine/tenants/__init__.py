"""Tenants: the airlines and marketplaces that each own their configuration."""
