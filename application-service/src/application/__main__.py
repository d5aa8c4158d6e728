"""``python -m application``: serve the application service with settings from the environment."""

from application.config import ApplicationSettings
from application.main import create_app
from mpp_shared.server import serve


def main() -> None:
    settings = ApplicationSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
