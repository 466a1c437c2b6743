"""Pricing rules and the engine that applies them (seed 001 pricing, seed 002 versioned rules)."""
