"""Builds the catalog service's app."""

from pathlib import Path

from fastapi import FastAPI

from catalog.config import CatalogSettings
from mpp_shared.app import create_service_app

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: CatalogSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="MPP Digital — Catalogue",
        description="Regions, agencies, MPP locations and the versioned service catalogue (standar pelayanan).",
        routers=[],
        migrations_dir=MIGRATIONS_DIR,
    )
