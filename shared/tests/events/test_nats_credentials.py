"""NATS credentials: `make run`'s passwords (made once, private, reused) and the settings."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from mpp_shared.config import BaseServiceSettings
from mpp_shared.events.connection import connect_options
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


def test_production_refuses_to_connect_to_nats_without_credentials() -> None:
    secret = {"MPP_INTERNAL_SECRET": "i" * 40}
    with pytest.raises(ValidationError, match="NATS_USER and NATS_PASSWORD"):
        BaseServiceSettings(environment="production", **secret)
    with pytest.raises(ValidationError, match="go together"):
        BaseServiceSettings(nats_user="catalog")

    settings = BaseServiceSettings(
        environment="production", nats_user="catalog", nats_password="p" * 40, **secret
    )
    options = connect_options(settings)
    assert options["user"] == "catalog"
    assert options["password"] == "p" * 40
    assert options["inbox_prefix"] == "_INBOX_catalog"
    assert "tls" not in options
    assert "p" * 40 not in repr(settings)


def test_tls_to_nats_is_validated_and_configured(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="nats:// or tls://"):
        BaseServiceSettings(nats_url="http://nats:4222")
    with pytest.raises(ValidationError, match="go together"):
        BaseServiceSettings(nats_tls_cert_file=tmp_path / "client.pem")
    with pytest.raises(ValidationError, match="is not a file"):
        BaseServiceSettings(nats_tls_ca_file=tmp_path / "missing.pem")

    assert "tls" not in connect_options(BaseServiceSettings())
    by_url = connect_options(BaseServiceSettings(nats_url="tls://nats.internal:4222"))
    assert isinstance(by_url["tls"], ssl.SSLContext)
    assert by_url["tls"].verify_mode == ssl.CERT_REQUIRED
