"""HTTP layer: routes and dependencies, no queries."""
