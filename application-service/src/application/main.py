"""Builds the application service's app."""

from pathlib import Path

from fastapi import FastAPI

from application.config import ApplicationSettings
from mpp_shared.app import create_service_app

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: ApplicationSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="MPP Digital — Applications",
        description="Citizens' applications, their documents and the agencies' processing.",
        routers=[],
        migrations_dir=MIGRATIONS_DIR,
    )
