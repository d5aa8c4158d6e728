"""``python -m tracking``: serve the tracking service with settings from the environment."""

from mpp_shared.server import serve
from tracking.config import TrackingSettings
from tracking.main import create_app


def main() -> None:
    settings = TrackingSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
