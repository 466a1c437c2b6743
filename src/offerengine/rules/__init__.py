"""The rules language: one small, safe, typed expression language for formulas, conditions,
eligibility and ranking. Parsed and type-checked when saved, compiled once, evaluated many times.
Pure: no database, no web framework."""
