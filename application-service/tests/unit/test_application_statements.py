"""The prebuilt statements of the repository cover what the domain changes, and the cache of
published versions is bounded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from application.db import repositories
from application.db.repositories import PublishedVersions
from application.domain.lifecycle import Status
from application.domain.models import Application


def _application() -> Application:
    now = datetime.now(UTC)
    return Application(
        id=uuid.uuid4(),
        owner_account_id=uuid.uuid4(),
        service_id=uuid.uuid4(),
        service_version=1,
        agency_id=uuid.uuid4(),
        status=Status.DRAFT,
        form_data={},
        created_at=now,
        updated_at=now,
    )


def test_the_update_statement_writes_every_column_a_change_may_touch() -> None:
    # A column added to the values but not to the prebuilt update would silently not be saved.
    assert set(repositories._values(_application())) == set(repositories._CHANGING)
    binds = set(repositories._SAVE.compile().params)
    assert binds == {f"new_{name}" for name in (*repositories._CHANGING, "version")} | {
        "key_id",
        "key_version",
    }


def _published(service_id: uuid.UUID, version: int) -> Any:
    class Published:
        pass

    published: Any = Published()
    published.service_id, published.version = service_id, version
    return published


def test_published_versions_keep_the_most_recently_used() -> None:
    versions = PublishedVersions(size=2)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    versions.put(_published(a, 1))
    versions.put(_published(b, 1))
    assert versions.get(a, 1) is not None  # a is now the most recently used
    versions.put(_published(c, 1))
    assert versions.get(b, 1) is None
    assert versions.get(a, 1) is not None
    assert versions.get(c, 1) is not None
    assert versions.get(a, 2) is None  # another version of a is another entry


def test_the_reads_on_asyncpg_take_their_parameters_in_the_order_they_are_given() -> None:
    from sqlalchemy.dialects.postgresql import asyncpg

    dialect = asyncpg.dialect()  # type: ignore[no-untyped-call]
    order = {
        repositories._APPLICATION_BY_ID: ["id"],
        repositories._DOCUMENTS_OF: ["application_id"],
        repositories._ALL_NOTES_OF: ["application_id"],
        repositories._PUBLIC_NOTES_OF: ["application_id", "visibility_1"],
        repositories._NEXT_SERIAL: ["region_code", "year"],
        repositories._SERVICE_HEADER: ["service_id"],
    }
    for statement, names in order.items():
        assert statement.compile(dialect=dialect).positiontup == names
    public = repositories._PUBLIC_NOTES_OF.compile(dialect=dialect).params["visibility_1"]
    assert public == "public"


def test_the_insert_statement_writes_every_column_of_a_new_application() -> None:
    binds = set(repositories._ADD.compile().params)
    assert binds == {f"add_{name}" for name in repositories._columns(_application())}
