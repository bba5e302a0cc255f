"""Discovery documents: how kubectl and the Python client learn which resources exist.

kubectl first asks for aggregated discovery (``apidiscovery.k8s.io/v2``) and falls back to the
classic documents served here: ``/api`` (APIVersions), ``/apis`` (APIGroupList), and one
APIResourceList per group version, generated from the kind registry so a new kind appears in
``kubectl api-resources`` without touching this module. Subresources are listed as
``pods/status``, ``deployments/scale`` (as ``autoscaling/v1`` Scale), ``pods/eviction`` (as
``policy/v1`` Eviction), ``services/proxy`` (as ServiceProxyOptions) and so on, which is how
``kubectl scale``, ``kubectl logs`` and ``kubectl drain`` find them.
"""

from __future__ import annotations

from collections import defaultdict

from orchestrator.api.registry import KINDS, PROXY, ResourceKind

#: the Kubernetes release whose API dockyard follows (kubectl warns on a skew of more than one)
KUBERNETES_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-dockyard"}

OBJECT_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"], "log": ["get"],
                      "exec": ["create", "get"], "attach": ["create", "get"], "portforward": ["create", "get"],
                      "eviction": ["create"], PROXY: ["create", "delete", "get", "patch", "update"],
                      "ephemeralcontainers": ["get", "patch", "update"]}


def version_info() -> dict:
    return {
        **KUBERNETES_VERSION,
        "gitCommit": "", "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "python", "compiler": "cpython", "platform": "linux/amd64",
    }


def group_versions() -> dict[str, list[ResourceKind]]:
    """``{"v1": [...], "apps/v1": [...]}`` in registry order."""
    grouped: dict[str, list[ResourceKind]] = defaultdict(list)
    for rk in KINDS:
        grouped[rk.api_version].append(rk)
    return dict(grouped)


def api_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}


def _group(name: str, versions: list[str]) -> dict:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list() -> dict:
    groups: dict[str, list[str]] = defaultdict(list)
    for api_version in group_versions():
        if "/" in api_version:
            group, version = api_version.split("/")
            groups[group].append(version)
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(name, versions) for name, versions in groups.items()]}


def api_group(name: str) -> dict | None:
    versions = [gv.split("/")[1] for gv in group_versions() if gv.startswith(f"{name}/")]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _resource_entry(rk: ResourceKind) -> dict:
    entry = {
        "name": rk.plural, "singularName": rk.singular, "namespaced": rk.namespaced,
        "kind": rk.kind, "verbs": OBJECT_VERBS,
    }
    if rk.short_names:
        entry["shortNames"] = list(rk.short_names)
    if rk.categories:
        entry["categories"] = list(rk.categories)
    return entry


def _subresource_entry(rk: ResourceKind, sub: str) -> dict:
    entry = {"name": f"{rk.plural}/{sub}", "singularName": "", "namespaced": rk.namespaced,
             "kind": rk.kind, "verbs": _SUBRESOURCE_VERBS[sub]}
    if sub == "scale":
        entry.update(group="autoscaling", version="v1", kind="Scale")
    if sub == "log":
        entry["kind"] = "Pod"
    if sub in ("exec", "attach"):
        entry["kind"] = f"Pod{sub.capitalize()}Options"
    if sub == "portforward":
        entry["kind"] = "PodPortForwardOptions"
    if sub == PROXY:
        entry["kind"] = f"{rk.kind}ProxyOptions"  # PodProxyOptions, ServiceProxyOptions, NodeProxyOptions
    if sub == "eviction":
        # kubectl drain posts Evictions only when discovery names this group and version
        entry.update(group="policy", version="v1", kind="Eviction")
    return entry


def api_resource_list(api_version: str) -> dict | None:
    kinds = group_versions().get(api_version)
    if kinds is None:
        return None
    resources = []
    for rk in kinds:
        resources.append(_resource_entry(rk))
        resources.extend(
            _subresource_entry(rk, sub) for sub in sorted(rk.subresources) if sub in _SUBRESOURCE_VERBS)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": resources}
