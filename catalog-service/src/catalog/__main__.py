"""``python -m catalog``: serve the catalog service with settings from the environment."""

import gc

from catalog.config import CatalogSettings
from catalog.main import create_app
from mpp_shared.server import serve


def main() -> None:
    settings = CatalogSettings()
    app = create_app(settings)
    # What importing made (some 150,000 objects: modules, classes, functions) lives as long as
    # the process. Frozen, it is no longer walked by every full collection, which the steady
    # allocation of serving requests triggers every few seconds.
    gc.freeze()
    serve(app, settings)


if __name__ == "__main__":
    main()
