"""Tables and repositories."""
