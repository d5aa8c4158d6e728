"""Durable consumers of other services' events."""
