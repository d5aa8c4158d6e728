"""Settings of the catalog service, from ``MPP_CATALOG_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings


class CatalogSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MPP_CATALOG_", extra="ignore", frozen=True)

    service_name: str = "catalog"
    port: int = 8082
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/mpp_catalog"
