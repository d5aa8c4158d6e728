"""Builds the identity service's app."""

from pathlib import Path

from fastapi import FastAPI

from identity.config import IdentitySettings
from mpp_shared.app import create_service_app

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: IdentitySettings) -> FastAPI:
    return create_service_app(
        settings,
        title="MPP Digital — Identity",
        description="Accounts, single sign-on (OpenID Connect), the mock Dukcapil registry, consents and the personal-data access log.",
        routers=[],
        migrations_dir=MIGRATIONS_DIR,
    )
