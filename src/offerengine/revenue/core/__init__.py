"""Revenue management as plain functions over plain data: demand forecasts from booking curves
(:mod:`.forecast`, with :mod:`.unconstrain` for what closed classes cut short), and nested booking
limits and bid prices from them (:mod:`.nesting`)."""
