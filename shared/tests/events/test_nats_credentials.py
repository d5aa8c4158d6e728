"""The service users' NATS passwords of `make run`: made once, private, reused, overridable."""

from __future__ import annotations

import stat
from pathlib import Path

from mpp_shared.events.permissions import NatsAuthorization, password_variable


def test_passwords_are_made_once_kept_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / ".run" / "nats" / "passwords.json"

    first = NatsAuthorization.load_or_create(path)
    again = NatsAuthorization.load_or_create(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(first.passwords) == {"identity", "catalog", "application", "tracking", "gateway"}
    assert len(set(first.passwords.values())) == len(first.passwords)
    assert again.passwords == first.passwords
    assert first.server_environment()[password_variable("gateway")] == first.passwords["gateway"]
    assert first.credentials("catalog").connect_options()["inbox_prefix"] == "_INBOX_catalog"


def test_a_password_from_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "passwords.json"
    stored = NatsAuthorization.load_or_create(path)

    chosen = NatsAuthorization.load_or_create(
        path, overrides={"MPP_IDENTITY_NATS_PASSWORD": "chosen-by-the-developer"}
    )

    assert chosen.passwords["identity"] == "chosen-by-the-developer"
    assert chosen.passwords["catalog"] == stored.passwords["catalog"]
