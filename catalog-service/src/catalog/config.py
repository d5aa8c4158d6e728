"""Settings of the catalog service, from ``MPP_CATALOG_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings


class CatalogSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MPP_CATALOG_", extra="ignore", frozen=True)

    service_name: str = "catalog"
    port: int = 8082
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/mpp_catalog"

    # Every province, regency/city and district is loaded; villages all (83,762, about a
    # second with COPY) or, when false, only those of the demo regencies.
    load_all_villages: bool = True
    # Connections of the read pool (search and reads go straight to asyncpg).
    read_pool_size: int = 10
    # Public reads are answered from memory for up to this many seconds (0: never); every
    # catalogue change, here or on another replica (via its NATS event), empties the cache.
    response_cache_seconds: float = 30.0
    response_cache_entries: int = 4096
