"""``python -m catalog``: serve the catalog service with settings from the environment."""

from catalog.config import CatalogSettings
from catalog.main import create_app
from mpp_shared.server import serve


def main() -> None:
    settings = CatalogSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
