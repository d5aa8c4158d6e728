"""One router per resource of the identity API."""
