"""Real PostgreSQL and NATS servers run from Python wheels, for `make run` and the tests."""

from mpp_shared.embedded.nats import EmbeddedNats, EmbeddedNatsCluster
from mpp_shared.embedded.postgres import EmbeddedPostgres
from mpp_shared.embedded.process import free_port

__all__ = ["EmbeddedNats", "EmbeddedNatsCluster", "EmbeddedPostgres", "free_port"]
