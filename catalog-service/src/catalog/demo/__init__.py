"""Demo data for ``make run``: the seed stories' agencies, services and MPP buildings."""
