"""The merged OpenAPI document: every service's public operations, one tag per service."""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from gateway.routes import Auth, Route, RoutingTable
from mpp_shared.openapi import PROBLEM_JSON_SCHEMA, PROBLEM_SCHEMA, add_problems
from mpp_shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_COMPONENT_SECTIONS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
)
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_TEMPLATE = re.compile(r"\{[^/}]+\}")
BEARER_SCHEME = "bearerAuth"

SERVICE_TAGS: Mapping[str, str] = {
    "identity": "Accounts, sign-in (OpenID Connect), consents and the personal-data access log.",
    "catalog": "Regions, agencies, MPP locations and the services with their standar pelayanan.",
    "application": "Applications, their documents and the agencies' processing.",
    "tracking": "Timelines, public tracking, notifications, webhooks, surveys and reports.",
}


def merge_documents(
    documents: Mapping[str, Mapping[str, Any]],
    table: RoutingTable,
    *,
    title: str,
    description: str,
    server_url: str,
) -> dict[str, Any]:
    """One OpenAPI 3.1 document of the public API from the services' own documents.

    An operation stays only when the routing table sends its method and path to the service
    that documented it. Components that two services name alike but define differently are
    renamed ``<Service><Name>``; every operation is tagged with its service.
    """
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "description": description, "version": "1.0.0"},
        "servers": [{"url": server_url}],
        "paths": {},
        "components": {
            "securitySchemes": {
                BEARER_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "Access token issued by the identity service.",
                }
            }
        },
        "tags": [],
    }
    components: dict[str, dict[str, Any]] = merged["components"]
    for service in sorted(documents):
        renames = _component_renames(service, documents[service], components)
        document: dict[str, Any] = _rewrite_refs(copy.deepcopy(dict(documents[service])), renames)
        kept = _public_paths(service, document.get("paths") or {}, table)
        if not kept:
            continue
        for section, entries in (document.get("components") or {}).items():
            if section not in _COMPONENT_SECTIONS or not isinstance(entries, dict):
                continue
            target = components.setdefault(section, {})
            for name, value in entries.items():
                target[renames.get((section, name), str(name))] = value
        for path, item in kept.items():
            merged["paths"].setdefault(path, {}).update(item)
        merged["tags"].append({"name": service, "description": SERVICE_TAGS.get(service, "")})
    merged["paths"] = dict(sorted(merged["paths"].items()))
    if merged["paths"]:  # the edge's own problem answers refer to it
        components.setdefault("schemas", {}).setdefault(PROBLEM_SCHEMA, PROBLEM_JSON_SCHEMA)
    return merged


def _component_renames(
    service: str, document: Mapping[str, Any], existing: Mapping[str, Mapping[str, Any]]
) -> dict[tuple[str, str], str]:
    renames: dict[tuple[str, str], str] = {}
    for section, entries in (document.get("components") or {}).items():
        if not isinstance(entries, dict):
            continue
        present = existing.get(section, {})
        for name, value in entries.items():
            if name in present and present[name] != value:
                renames[(section, name)] = f"{service.capitalize()}{name}"
    return renames


def _rewrite_refs(node: Any, renames: Mapping[tuple[str, str], str]) -> Any:
    if not renames:
        return node
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            _, _, section, name = ref.split("/", 3)
            if (section, name) in renames:
                node["$ref"] = f"#/components/{section}/{renames[(section, name)]}"
        for key, value in node.items():
            if key != "$ref":
                node[key] = _rewrite_refs(value, renames)
        return node
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _public_paths(
    service: str, paths: Mapping[str, Any], table: RoutingTable
) -> dict[str, dict[str, Any]]:
    kept: dict[str, dict[str, Any]] = {}
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        # A template segment ({id}) stands for one concrete segment when matching the table.
        concrete = _TEMPLATE.sub("x", path)
        operations: dict[str, Any] = {}
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            route = table.match(method.upper(), concrete)
            if route is None or route.service != service or not isinstance(operation, dict):
                continue
            operation = dict(operation)
            operation["tags"] = [service]
            if route.auth is Auth.TOKEN and "security" not in operation:
                operation["security"] = [{BEARER_SCHEME: []}]
            operation["responses"] = dict(operation.get("responses") or {})
            add_problems(operation, _edge_problems(route, operation))
            operations[method] = operation
        if operations:
            shared = {k: v for k, v in item.items() if k not in _HTTP_METHODS}
            kept[path] = {**shared, **operations}
    return kept


def _edge_problems(route: Route, operation: Mapping[str, Any]) -> list[int]:
    """What the gateway itself may answer before the service sees the request."""
    statuses = [429]  # every route has a rate limit class
    if route.auth is not Auth.SERVICE:
        statuses.append(401)  # a token that is present is verified, on public routes too
    if route.auth is Auth.TOKEN and (route.roles or not route.mfa_enrolment):
        statuses.append(403)
    if "requestBody" in operation:
        statuses.append(413)
    return statuses


class OpenApiAggregator:
    """Fetches the services' documents at start and then periodically (they may start later).

    A service that cannot be reached keeps its last document; until every service has been
    fetched once (``complete``, part of the gateway's readiness), it tries again after a short
    backoff: ``retry_initial`` seconds, doubling up to ``retry_seconds``.
    """

    def __init__(
        self,
        upstreams: Mapping[str, str | Sequence[str]],
        table: RoutingTable,
        http: httpx.AsyncClient,
        *,
        title: str,
        description: str,
        server_url: str,
        refresh_seconds: float = 60.0,
        retry_seconds: float = 1.0,
        retry_initial: float = 0.2,
    ) -> None:
        # Each service's replicas: any one of them has the service's document.
        self.upstreams = {
            name: (urls,) if isinstance(urls, str) else tuple(urls)
            for name, urls in upstreams.items()
        }
        self.table = table
        self.http = http
        self.title = title
        self.description = description
        self.server_url = server_url
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = retry_seconds
        self.retry_initial = retry_initial
        self.documents: dict[str, Mapping[str, Any]] = {}
        self.document: dict[str, Any] = self._merge()
        self._task: asyncio.Task[None] | None = None

    @property
    def complete(self) -> bool:
        """Whether every service's document has been merged at least once."""
        return set(self.documents) >= set(self.upstreams)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="openapi-refresh")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def refresh(self) -> None:
        results = await asyncio.gather(
            *(self._fetch(url) for url in self.upstreams.values()), return_exceptions=True
        )
        changed = False
        for service, result in zip(self.upstreams, results, strict=True):
            if isinstance(result, BaseException):
                log.info(
                    "no OpenAPI document yet", extra={"upstream": service, "error": str(result)}
                )
                continue
            if self.documents.get(service) != result:
                self.documents[service] = result
                changed = True
        if changed:
            self.document = self._merge()

    async def _fetch(self, base_urls: Sequence[str]) -> dict[str, Any]:
        for base_url in base_urls[:-1]:
            try:
                return await self._fetch_one(base_url)
            except (httpx.HTTPError, ValueError):
                continue  # another replica may answer
        return await self._fetch_one(base_urls[-1])

    async def _fetch_one(self, base_url: str) -> dict[str, Any]:
        response = await self.http.get(base_url + "/openapi.json", timeout=5.0)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
            raise ValueError("not an OpenAPI document")
        return document

    def _merge(self) -> dict[str, Any]:
        return merge_documents(
            self.documents,
            self.table,
            title=self.title,
            description=self.description,
            server_url=self.server_url,
        )

    async def _refresh_forever(self) -> None:
        retry = self.retry_initial
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("OpenAPI refresh failed")
            if self.complete:
                retry = self.retry_initial
                await asyncio.sleep(self.refresh_seconds)
            else:
                await asyncio.sleep(retry)
                retry = min(retry * 2, self.retry_seconds)
