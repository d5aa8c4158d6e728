"""Event contracts published by catalog-service."""
