"""Storage: engines, metadata, the unit of work and migrations."""
