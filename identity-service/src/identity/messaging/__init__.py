"""Event publishers and consumers."""
