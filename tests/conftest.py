"""Fixtures of the whole-system tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mpp_shared.testing.people import Cast, make_cast
from mpp_shared.testing.stack import StackEnv, free_stack_env, running_stack


@pytest.fixture
def stack_env() -> StackEnv:
    """Free ports for every server of the stack, in an environment to start it with."""
    return free_stack_env()


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackEnv]:
    """The whole system with its demo data, as ``make run`` starts it, once for the session.

    Webhooks may point at loopback addresses: the tests' receivers listen there.
    """
    env = free_stack_env(MPP_WEBHOOK_ALLOW_PRIVATE="1")
    with running_stack(tmp_path_factory.mktemp("stack"), env) as stack:
        yield stack


@pytest.fixture(scope="session")
def cast(demo_stack: StackEnv) -> Cast:
    """The platform admin (enrolled in TOTP here), staff of agencies X and Y made by it, two
    registered citizens and agency X's system."""
    return make_cast(demo_stack.gateway_url)
