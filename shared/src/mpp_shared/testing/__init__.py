"""Test support: throwaway PostgreSQL and NATS for the session, app clients."""
