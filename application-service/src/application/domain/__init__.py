"""The rules of the service; no FastAPI, no SQL, no NATS."""
