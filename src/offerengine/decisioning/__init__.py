"""Decisioning (seed 003): placements, offers, collections, ranking formulas and activities; the
next best offer for each placement of a request, with eligibility, exact capping, de-duplication
and fallback."""
