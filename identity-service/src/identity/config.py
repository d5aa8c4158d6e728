"""Settings of the identity service, from ``MPP_IDENTITY_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings


class IdentitySettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MPP_IDENTITY_", extra="ignore", frozen=True)

    service_name: str = "identity"
    port: int = 8081
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/mpp_identity"
