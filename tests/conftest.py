from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.db import create_engine, migrate  # noqa: E402
from storage.models import Base  # noqa: E402
from storage.uow import SqlUnitOfWorkFactory  # noqa: E402
from tests.dbutil import ENGINE_NAME, copy_database, new_database_url  # noqa: E402


def pytest_report_header() -> str:
    return f"wabridge test database engine: {ENGINE_NAME}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests go first, so that pytest-xdist runs them beside the others instead
    of leaving them alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared/ folder (Meta's OpenAPI file and samples)."""
    configured = os.environ.get("WABRIDGE_SHARED_DIR")
    candidates = [Path(configured)] if configured else []
    candidates += [ROOT.parent / "shared", Path("/work/shared")]
    for candidate in candidates:
        if (candidate / "meta").is_dir():
            return candidate
    pytest.fail("shared/ not found beside the checkout; set WABRIDGE_SHARED_DIR")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = new_database_url(tmp_path_factory.mktemp("db"))
    migrate(url)
    return url


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[SqlUnitOfWorkFactory]:
    """A unit-of-work factory on the migrated test database, emptied before each test."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())
    try:
        yield SqlUnitOfWorkFactory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    yield new_database_url(tmp_path, "fresh")


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated once per test process, never connected to afterwards."""
    url = new_database_url(tmp_path_factory.mktemp("template"), "template")
    migrate(url)
    return url


@pytest.fixture
def migrated_database_url(tmp_path: Path, schema_template: str) -> str:
    """A new database of its own, already at the newest migration (a copy of the template):
    ``wabridge serve`` then finds nothing to migrate, and starts sooner."""
    return copy_database(schema_template, tmp_path)
