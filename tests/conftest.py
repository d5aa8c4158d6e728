"""Fixtures of the whole-system tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mpp_shared.testing.stack import StackEnv, free_stack_env, running_stack


@pytest.fixture
def stack_env() -> StackEnv:
    """Free ports for every server of the stack, in an environment to start it with."""
    return free_stack_env()


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackEnv]:
    """The whole system with its demo data, as ``make run`` starts it."""
    with running_stack(tmp_path_factory.mktemp("stack"), free_stack_env()) as stack:
        yield stack
