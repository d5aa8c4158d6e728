"""Who may publish and subscribe what on NATS: the one table, and the server config it renders.

Each process connects as its own user (ARCHITECTURE.md: least privilege, nobody anonymous).
The table below is data; :func:`render_authorization` turns it into the ``authorization``
block of nats-server's config, used by ``make run``, by the tests and by docker-compose
(``deploy/nats/nats.conf``, regenerated with ``python -m mpp_shared.events.permissions``).
Passwords are never in the rendered text: it names the environment variable
``MPP_<USER>_NATS_PASSWORD``, which nats-server reads when it starts.

What each right is for:

- ``mpp.<service>.>``: a service publishes only its own events (the outbox relay's
  ``js.publish``); the JetStream acks come back on its inbox.
- ``$JS.API.STREAM.{INFO,CREATE,UPDATE}.<MPP|MPP_DLQ>``: the relay and the consumers make sure
  of both streams (``mpp_shared.events.stream``).
- per durable consumer ``<name>``: ``$JS.API.CONSUMER.{CREATE,DURABLE.CREATE,INFO}`` and
  ``MSG.NEXT`` on ``MPP.<name>``, its acks ``$JS.ACK.MPP.<name>.>`` (ack, nak, term, in
  progress) and its dead letters ``dlq.mpp.<name>``. Consumer names are listed here: a service
  cannot create, read or ack another one's consumer. The skeleton services have the consumers
  ARCHITECTURE.md gives them, under the names below; a new consumer is a new line here.
- ``_INBOX_<user>.>``: every reply (request-reply, JetStream API, pulled messages) comes to the
  user's own inbox prefix, which the client sets (nats-py ``inbox_prefix``,
  :func:`inbox_prefix`); subscribing to another user's prefix or to ``_INBOX.>`` is denied.
- ``rpc.identity.>``: only application-service requests (tracking-service only
  ``rpc.identity.contact``), only identity-service answers; the
  answer is published under ``allow_responses`` (one reply to the inbox a request names), so
  identity needs no right to publish to anybody's inbox.
- ``rpc.catalog.>`` (the snapshots of services and locations, one location): only
  application-service requests, only catalog-service answers, the same way.
- ``_gateway.ratelimit.v1`` (``gateway.ratelimit.SYNC_SUBJECT``): only gateways.
- ``_tracking.stream.v1.>`` (live events for Server-Sent Events): only tracking replicas.
- the gateway reads ``mpp.identity.access.revoked`` from ``MPP`` with an ordered consumer of its
  own: stream info and names, the consumer create (nats-py creates an ordered consumer without a
  name, on ``$JS.API.CONSUMER.CREATE.MPP``; a named one carries its filter in the subject,
  which the server checks), its consumer's info, and flow-control replies ``$JS.FC.MPP.>``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.contracts.identity import v1 as identity
from mpp_shared.events.stream import DEAD_LETTER_PREFIX, DEAD_LETTER_STREAM, EVENTS_STREAM

JS_API = "$JS.API"
RPC_IDENTITY = "rpc.identity.>"
RPC_CATALOG = "rpc.catalog.>"
# gateway.ratelimit.SYNC_SUBJECT (the shared package may not import the gateway; a gateway test
# pins the two together).
GATEWAY_RATE_LIMIT = "_gateway.ratelimit.v1"
# tracking.messaging.stream.STREAM_SUBJECTS: live events fanned out to every tracking replica.
TRACKING_STREAM = "_tracking.stream.v1.>"


def event_subjects(service: str) -> str:
    """Every event subject of ``service``: ``mpp.<service>.>``."""
    return f"mpp.{service}.>"


def inbox_prefix(user: str) -> str:
    """The inbox prefix of ``user``'s connections: replies to it arrive under ``<prefix>.>``."""
    return f"_INBOX_{user}"


def password_variable(user: str) -> str:
    """The environment variable with ``user``'s password, for nats-server and for the service."""
    return f"MPP_{user.upper()}_NATS_PASSWORD"


@dataclass(frozen=True)
class ServiceAccess:
    """What one service does on NATS; :meth:`permissions` turns it into subject rights."""

    user: str
    # Publishes its own events mpp.<user>.> through the outbox relay.
    publishes_events: bool = True
    # Durable consumers on MPP: name -> the subjects it consumes.
    consumers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Core NATS (nothing stored).
    core_publishes: tuple[str, ...] = ()
    core_subscribes: tuple[str, ...] = ()
    # Request-reply: subjects it requests, and subjects it answers (in a queue group).
    requests: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    # Ordered (ephemeral) consumers on MPP, by filter subject.
    stream_reads: tuple[str, ...] = ()

    @property
    def manages_streams(self) -> bool:
        return self.publishes_events or bool(self.consumers)

    def permissions(self, *, users: Iterable[str]) -> Permissions:
        own_inbox = inbox_prefix(self.user)
        publish: list[str] = []
        subscribe: list[str] = [f"{own_inbox}.>"]
        if self.publishes_events:
            publish.append(event_subjects(self.user))
        if self.manages_streams:
            for stream in (EVENTS_STREAM, DEAD_LETTER_STREAM):
                publish += [f"{JS_API}.STREAM.{op}.{stream}" for op in ("INFO", "CREATE", "UPDATE")]
        for name in self.consumers:
            on = f"{EVENTS_STREAM}.{name}"
            publish += [
                f"{JS_API}.CONSUMER.CREATE.{on}",
                f"{JS_API}.CONSUMER.CREATE.{on}.>",
                f"{JS_API}.CONSUMER.DURABLE.CREATE.{on}",
                f"{JS_API}.CONSUMER.INFO.{on}",
                f"{JS_API}.CONSUMER.MSG.NEXT.{on}",
                f"$JS.ACK.{on}.>",
                f"{DEAD_LETTER_PREFIX}.{name}",
            ]
        if self.stream_reads:
            if not self.manages_streams:
                publish.append(f"{JS_API}.STREAM.INFO.{EVENTS_STREAM}")
            publish += [
                f"{JS_API}.STREAM.NAMES",
                f"{JS_API}.CONSUMER.CREATE.{EVENTS_STREAM}",
                *(f"{JS_API}.CONSUMER.CREATE.{EVENTS_STREAM}.*.{s}" for s in self.stream_reads),
                # The ordered consumer checks on its own consumer after missed heartbeats.
                f"{JS_API}.CONSUMER.INFO.{EVENTS_STREAM}.*",
                f"$JS.FC.{EVENTS_STREAM}.>",
            ]
        publish += [*self.core_publishes, *self.requests]
        subscribe += [*self.core_subscribes, *self.answers]
        others = sorted({*users} - {self.user})
        return Permissions(
            publish=_unique(publish),
            subscribe=_unique(subscribe),
            subscribe_deny=("_INBOX.>", *(f"{inbox_prefix(u)}.>" for u in others)),
            allow_responses=bool(self.answers),
        )


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    subscribe_deny: tuple[str, ...] = ()
    allow_responses: bool = False

    @classmethod
    def everything(cls) -> Permissions:
        """For test clients that play any part; never in a deployment."""
        return cls(publish=(">",), subscribe=(">",))


@dataclass(frozen=True)
class NatsUser:
    name: str
    permissions: Permissions


# ---- the table ---------------------------------------------------------------------------------

SERVICES: tuple[ServiceAccess, ...] = (
    ServiceAccess(
        user="identity",
        consumers={"identity-agencies": (catalog.AGENCY_CREATED, catalog.AGENCY_UPDATED)},
        answers=(RPC_IDENTITY,),
    ),
    ServiceAccess(
        user="catalog",
        # Empties the response cache of every replica on each catalogue event.
        core_subscribes=(event_subjects("catalog"),),
        answers=(RPC_CATALOG,),
    ),
    ServiceAccess(
        user="application",
        consumers={
            "application-catalog": (catalog.SERVICE_PUBLISHED, catalog.SERVICE_RETIRED),
            # The read copy of the MPP locations, for counter bookings.
            "application-locations": (catalog.LOCATION_UPDATED,),
            "application-identity": (event_subjects("identity"),),
        },
        requests=(RPC_IDENTITY, RPC_CATALOG),
    ),
    ServiceAccess(
        user="tracking",
        consumers={
            "tracking-applications": (event_subjects("application"),),
            "tracking-catalog": (event_subjects("catalog"),),
            # Queues agency webhook deliveries; keeps the report projection and aggregates.
            "tracking-webhooks": (event_subjects("application"),),
            "tracking-reports": (event_subjects("application"),),
        },
        # Server-Sent Events: the replica that handled an event tells all the others.
        core_publishes=(TRACKING_STREAM,),
        core_subscribes=(TRACKING_STREAM,),
        # The email/phone of an account when a notification copy is sent.
        requests=(identity.CONTACT_SUBJECT,),
    ),
    ServiceAccess(
        user="gateway",
        publishes_events=False,
        core_publishes=(GATEWAY_RATE_LIMIT,),
        core_subscribes=(GATEWAY_RATE_LIMIT,),
        stream_reads=(identity.ACCESS_REVOKED,),
    ),
)


def service_access(user: str) -> ServiceAccess:
    for access in SERVICES:
        if access.user == user:
            return access
    raise KeyError(f"no NATS user {user!r} in the permission table")


def service_users(extra: Sequence[NatsUser] = ()) -> tuple[NatsUser, ...]:
    """Every service's user with its permissions, then ``extra`` users (tests)."""
    names = [a.user for a in SERVICES] + [u.name for u in extra]
    return (
        *(NatsUser(a.user, a.permissions(users=names)) for a in SERVICES),
        *extra,
    )


# ---- rendering ---------------------------------------------------------------------------------

HEADER = (
    "# nats-server authorization: rendered from mpp_shared/events/permissions.py by\n"
    "#   python -m mpp_shared.events.permissions > deploy/nats/nats.conf\n"
    "# Do not edit by hand; tests/deploy/test_compose.py checks that it is up to date.\n"
    "# Passwords come from the environment (nats-server resolves $NAME from it at start).\n"
)


def render_authorization(users: Sequence[NatsUser] | None = None) -> str:
    """The config text: an ``authorization`` block, no ``no_auth_user``, so nobody is anonymous."""
    lines = [HEADER, "authorization {", "  users = ["]
    for user in users if users is not None else service_users():
        p = user.permissions
        lines += [
            "    {",
            f"      user: {_quoted(user.name)}",
            f"      password: ${password_variable(user.name)}",
            "      permissions: {",
            *_rights("publish", allow=p.publish, deny=()),
            *_rights("subscribe", allow=p.subscribe, deny=p.subscribe_deny),
        ]
        if p.allow_responses:
            lines.append("        allow_responses: true")
        lines += ["      }", "    }"]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def _rights(kind: str, *, allow: Sequence[str], deny: Sequence[str]) -> list[str]:
    lines = [f"        {kind}: {{"]
    for key, subjects in (("allow", allow), ("deny", deny)):
        if subjects:
            lines.append(f"          {key}: [")
            lines += [f"            {_quoted(s)}," for s in subjects]
            lines.append("          ]")
    lines.append("        }")
    return lines


def _quoted(text: str) -> str:
    return json.dumps(text)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# ---- credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NatsCredentials:
    """What one client presents to NATS."""

    user: str
    password: str = field(repr=False)

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments of ``nats.connect``."""
        return {
            "user": self.user,
            "password": self.password,
            "inbox_prefix": inbox_prefix(self.user),
        }

    def settings(self) -> dict[str, str]:
        """Keyword arguments of a service's settings (``BaseServiceSettings``)."""
        return {"nats_user": self.user, "nats_password": self.password}


def new_password() -> str:
    # Hex with at least one letter: nats-server parses an environment value as config, so a
    # value of digits only would become a number.
    while True:
        password = secrets.token_hex(24)
        if not password.isdigit():
            return password


@dataclass(frozen=True)
class NatsAuthorization:
    """The users a server accepts and their passwords: the server's side and the clients'."""

    passwords: Mapping[str, str] = field(repr=False)
    users: tuple[NatsUser, ...] = field(default_factory=service_users)

    @classmethod
    def generate(cls, users: tuple[NatsUser, ...] | None = None) -> NatsAuthorization:
        users = users if users is not None else service_users()
        return cls(passwords={u.name: new_password() for u in users}, users=users)

    @classmethod
    def load_or_create(
        cls, path: Path, *, overrides: Mapping[str, str] | None = None
    ) -> NatsAuthorization:
        """The service users' passwords kept in ``path`` (mode 0600), made on the first call.

        ``overrides``: environment values (``MPP_<USER>_NATS_PASSWORD``) that win over the file.
        """
        users = service_users()
        stored: dict[str, str] = {}
        if path.exists():
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict):
                stored = {str(k): str(v) for k, v in loaded.items()}
        missing = [u.name for u in users if u.name not in stored]
        if missing or not path.exists():
            stored.update({name: new_password() for name in missing})
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600, exist_ok=True)
            path.write_text(json.dumps(stored, indent=2) + "\n")
        path.chmod(0o600)
        env = overrides or {}
        passwords = {u.name: env.get(password_variable(u.name)) or stored[u.name] for u in users}
        return cls(passwords=passwords, users=users)

    def config_text(self) -> str:
        return render_authorization(self.users)

    def server_environment(self) -> dict[str, str]:
        """The variables the rendered config reads, for the nats-server process."""
        return {password_variable(name): pw for name, pw in self.passwords.items()}

    def credentials(self, user: str) -> NatsCredentials:
        return NatsCredentials(user, self.passwords[user])


def main() -> None:
    print(render_authorization(), end="")


if __name__ == "__main__":
    main()
