"""An airline's network: the airports it serves (flights and schedules come with shopping)."""
