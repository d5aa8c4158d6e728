"""``python -m gateway``: serve the gateway with settings from the environment."""

from gateway.config import GatewaySettings
from gateway.main import create_app
from mpp_shared.server import serve


def main() -> None:
    settings = GatewaySettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
