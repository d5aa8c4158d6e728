"""``python -m gateway``: serve the gateway with settings from the environment."""

from starlette.types import ASGIApp

from gateway.config import GatewaySettings
from gateway.main import create_app, entry_point
from gateway.server import protocol_for
from mpp_shared.server import serve


def create_app_from_environment() -> ASGIApp:
    """For ASGI servers started by import path (``--factory``), e.g. granian."""
    return entry_point(create_app(GatewaySettings()))


def main() -> None:
    settings = GatewaySettings()
    serve(
        entry_point(create_app(settings)),
        settings,
        http=protocol_for(settings),
        timeout_keep_alive=max(1, round(settings.client_keep_alive_seconds)),
    )


if __name__ == "__main__":
    main()
