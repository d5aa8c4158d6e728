"""Builds the identity service's app."""

from pathlib import Path

from fastapi import FastAPI

from identity.api.caching import NoStoreByDefault
from identity.api.errors import install_error_handlers
from identity.api.oauth_responses import OAUTH_RESPONSES
from identity.api.routes import (
    accounts,
    admin,
    auth,
    citizens,
    clients,
    counter,
    me,
    mfa,
    oauth,
    staff,
)
from identity.bootstrap import (
    close_local_verifier,
    install_local_verifier,
    prepare_keys_and_admin,
    wire_registry,
)
from identity.components import build_components
from identity.config import IdentitySettings
from identity.demo_data import seed_demo_data
from identity.housekeeping import HousekeepingWorker
from identity.messaging.consumers.agencies import agency_consumer
from identity.messaging.rpc import rpc_responders
from mpp_shared.app import ServiceRuntime, Worker, create_service_app
from mpp_shared.openapi import document_responses

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: IdentitySettings) -> FastAPI:
    components = build_components(settings)

    def workers(runtime: ServiceRuntime) -> list[Worker]:
        sessionmaker, connection = runtime.session_factory(), runtime.nats_connection()
        return [
            agency_consumer(sessionmaker, connection),
            *rpc_responders(
                sessionmaker,
                connection,
                queue=settings.rpc_queue_group,
                registry=components.population_registry,
            ),
            HousekeepingWorker(sessionmaker),
        ]

    app = create_service_app(
        settings,
        title="MPP Digital — Identity",
        description=(
            "Accounts, single sign-on (OpenID Connect), the mock Dukcapil registry, consents "
            "and the personal-data access log."
        ),
        # GET /api/v1/me first: it is the most frequent request, and FastAPI tries the routes
        # of the routers in this order (each router tried costs some 10 µs); no two routers
        # share a path, so the order decides nothing else.
        routers=[
            me.router,
            oauth.router,
            auth.router,
            citizens.router,
            me.selfie_router,
            mfa.router,
            staff.router,
            clients.router,
            admin.router,
            accounts.router,
            counter.router,
        ],
        migrations_dir=MIGRATIONS_DIR,
        workers=workers,
        on_startup=[wire_registry, prepare_keys_and_admin, seed_demo_data, install_local_verifier],
        on_shutdown=[close_local_verifier],
        state=components,
    )
    install_error_handlers(app)
    document_responses(app, OAUTH_RESPONSES)
    app.add_middleware(NoStoreByDefault)
    return app
