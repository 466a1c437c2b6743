"""API keys, roles and the principal of a request."""
