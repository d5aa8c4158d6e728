"""``python -m identity``: serve the identity service with settings from the environment."""

from identity.config import IdentitySettings
from identity.main import create_app
from mpp_shared.server import serve


def main() -> None:
    settings = IdentitySettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
