"""Builds the tracking service's app."""

from pathlib import Path

from fastapi import FastAPI

from mpp_shared.app import create_service_app
from tracking.config import TrackingSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: TrackingSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="MPP Digital — Tracking",
        description="Timelines, notifications, webhooks, satisfaction surveys and reports.",
        routers=[],
        migrations_dir=MIGRATIONS_DIR,
    )
