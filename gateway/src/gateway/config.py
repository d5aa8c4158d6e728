"""Settings of the gateway, from ``MPP_GATEWAY_*`` environment variables."""

from pydantic_settings import SettingsConfigDict

from mpp_shared.config import BaseServiceSettings


class GatewaySettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MPP_GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = 8080

    identity_url: str = "http://127.0.0.1:8081"
    catalog_url: str = "http://127.0.0.1:8082"
    application_url: str = "http://127.0.0.1:8083"
    tracking_url: str = "http://127.0.0.1:8084"

    upstream_connect_timeout_seconds: float = 2.0
    upstream_timeout_seconds: float = 30.0

    def upstreams(self) -> dict[str, str]:
        return {
            "identity": self.identity_url.rstrip("/"),
            "catalog": self.catalog_url.rstrip("/"),
            "application": self.application_url.rstrip("/"),
            "tracking": self.tracking_url.rstrip("/"),
        }
