"""Settings of the tracking service, from ``MPP_TRACKING_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings


class TrackingSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MPP_TRACKING_", extra="ignore", frozen=True)

    service_name: str = "tracking"
    port: int = 8084
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/mpp_tracking"
