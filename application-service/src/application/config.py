"""Settings of the application service, from ``MPP_APPLICATION_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings


class ApplicationSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MPP_APPLICATION_", extra="ignore", frozen=True)

    service_name: str = "application"
    port: int = 8083
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/mpp_application"
