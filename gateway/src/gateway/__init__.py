"""MPP Digital gateway: routes the public API to the services."""
