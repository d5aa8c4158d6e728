"""A Kustomize-compatible renderer of the features deploy/k8s uses, so tests need no kubectl.

Supported, with Kustomize's meaning: ``resources`` (files, and folders with a
``kustomization.yaml``), ``namespace``, ``labels`` (``pairs``, ``includeSelectors``,
``includeTemplates``), ``replicas``, ``images`` (``newName``, ``newTag``, ``digest``) and
``patches`` given inline as JSON 6902 operations with a ``target`` (``group``, ``version``,
``kind``, ``name``). Anything else in a kustomization is refused rather than ignored, so a
manifest that starts using another feature fails the tests until this renderer learns it.
``kubectl kustomize``, where installed, renders the same objects (tests/deploy/test_k8s.py
compares them).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "replicas", "images"}
SUPPORTED |= {"patches"}
# Kinds whose pod template carries the labels when ``includeTemplates`` is set.
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
CLUSTER_SCOPED |= {"PersistentVolume", "StorageClass", "PriorityClass", "IngressClass"}


class KustomizeError(ValueError):
    pass


def render(folder: Path) -> list[Object]:
    """The objects ``folder``'s kustomization.yaml builds, in the order they were read."""
    path = folder / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{folder}: no kustomization.yaml")
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{path}: not supported here: {sorted(unknown)}")
    objects: list[Object] = []
    for entry in spec.get("resources") or []:
        target = (folder / entry).resolve()
        if target.is_dir():
            objects += render(target)
        elif target.is_file():
            objects += [d for d in yaml.safe_load_all(target.read_text()) if d]
        else:
            raise KustomizeError(f"{path}: resource {entry} does not exist")
    _check_unique(objects, path)
    for patch in spec.get("patches") or []:
        _apply_patch(objects, patch, path)
    for item in spec.get("labels") or []:
        _add_labels(objects, item)
    for replica in spec.get("replicas") or []:
        _set_replicas(objects, replica, path)
    for image in spec.get("images") or []:
        _set_image(objects, image)
    if spec.get("namespace"):
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    return objects


def key(obj: Object) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata") or {}
    return (obj["apiVersion"], obj["kind"], metadata.get("namespace", ""), metadata["name"])


def _check_unique(objects: list[Object], path: Path) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        if key(obj) in seen:
            raise KustomizeError(f"{path}: {key(obj)} appears twice")
        seen.add(key(obj))


def _matches(obj: Object, target: dict[str, str]) -> bool:
    group, _, version = obj["apiVersion"].rpartition("/")
    wanted = {
        "group": group,
        "version": version,
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
    }
    unknown = set(target) - set(wanted)
    if unknown:
        raise KustomizeError(f"patch target keys not supported here: {sorted(unknown)}")
    return all(wanted[k] == v for k, v in target.items())


def _apply_patch(objects: list[Object], patch: dict[str, Any], path: Path) -> None:
    if set(patch) != {"target", "patch"}:
        raise KustomizeError(f"{path}: only inline patches with a target are supported")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise KustomizeError(f"{path}: only JSON 6902 patches (a list of operations)")
    matched = [obj for obj in objects if _matches(obj, patch["target"])]
    if not matched:
        raise KustomizeError(f"{path}: patch target {patch['target']} matches nothing")
    for obj in matched:
        for operation in operations:
            json_patch(obj, operation)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"not a JSON pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json_patch(document: Object, operation: dict[str, Any]) -> None:
    """One RFC 6902 ``add``, ``replace`` or ``remove`` (what Kustomize's patches use here)."""
    op = operation["op"]
    *parents, last = _pointer(operation["path"])
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, copy.deepcopy(operation["value"]))
        elif op == "replace":
            node[index] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del node[index]
        else:
            raise KustomizeError(f"operation {op!r} not supported here")
        return
    if op == "add":
        node[last] = copy.deepcopy(operation["value"])
    elif op == "replace":
        if last not in node:
            raise KustomizeError(f"replace of a missing member: {operation['path']}")
        node[last] = copy.deepcopy(operation["value"])
    elif op == "remove":
        del node[last]
    else:
        raise KustomizeError(f"operation {op!r} not supported here")


def _add_labels(objects: list[Object], item: dict[str, Any]) -> None:
    unknown = set(item) - {"pairs", "includeSelectors", "includeTemplates"}
    if unknown:
        raise KustomizeError(f"labels options not supported here: {sorted(unknown)}")
    if item.get("includeSelectors"):
        raise KustomizeError("includeSelectors: true is not supported here")
    pairs = item["pairs"]
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if item.get("includeTemplates") and obj["kind"] in WORKLOADS:
            template = obj["spec"]["template"].setdefault("metadata", {})
            template.setdefault("labels", {}).update(pairs)


def _set_replicas(objects: list[Object], replica: dict[str, Any], path: Path) -> None:
    found = False
    for obj in objects:
        if obj["metadata"]["name"] == replica["name"] and "replicas" in (obj.get("spec") or {}):
            obj["spec"]["replicas"] = int(replica["count"])
            found = True
    if not found:
        raise KustomizeError(f"{path}: replicas for {replica['name']}, which has none")


def _split_image(image: str) -> tuple[str, str]:
    """(name, what follows it: ":tag", "@digest" or "")."""
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, "@" + digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""


def _set_image(objects: list[Object], image: dict[str, Any]) -> None:
    for obj in objects:
        if obj["kind"] not in WORKLOADS:
            continue
        spec = obj["spec"]["template"]["spec"]
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            name, suffix = _split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                suffix = "@" + image["digest"]
            elif "newTag" in image:
                suffix = ":" + str(image["newTag"])
            container["image"] = name + suffix
