from __future__ import annotations

import pytest

from storage.uow import SqlUnitOfWorkFactory
from tests.integration.world import World


@pytest.fixture
def world(uow_factory: SqlUnitOfWorkFactory) -> World:
    return World.build(uow_factory)
