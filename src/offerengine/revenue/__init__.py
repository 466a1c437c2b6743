"""Revenue management: forecasts of the demand to come, nested booking limits and bid prices, and
learned prices (see docs/revenue.md)."""
