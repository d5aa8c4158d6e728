"""Event and request-reply contracts of identity-service."""
