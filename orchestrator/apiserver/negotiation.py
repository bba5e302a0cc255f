"""What the client sent and what it wants back: media types, Table requests, query options.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` when it prints (server-side
printing), plain JSON otherwise. Request bodies are JSON, YAML or, where the route says what they
decode into, Kubernetes' protobuf (kubectl's typed clients — ``kubectl create deployment``,
``create secret`` … — send it): :mod:`orchestrator.api.wire` turns it into the same wire-form
dict. Protobuf answers, for clients that accept nothing else, are
:mod:`orchestrator.apiserver.protobuf`'s.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Mapping

import yaml

from orchestrator.api import errors, wire
from orchestrator.api.selectors import SelectorError, parse_field_selector, parse_label_selector
from orchestrator.api.options import DeleteOptions, ListOptions, PatchType, PropagationPolicy

JSON_TYPES = ("application/json", "")
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
PROTOBUF = "application/vnd.kubernetes.protobuf"


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def wants_table(accept: str | None) -> bool:
    """True when one of the offered media ranges is a meta.k8s.io Table."""
    for offered in (accept or "").split(","):
        params = {}
        for part in offered.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            params[key] = value
        if params.get("as") == "Table" and params.get("g", "meta.k8s.io") == "meta.k8s.io":
            return True
    return False


def decode_body(raw: bytes, content_type: str | None, *, into: wire.Into | None = None) -> dict:
    """A request body that must be one object (what create, update and DeleteOptions send); a
    protobuf one where the route names what it decodes ``into``."""
    if media_type(content_type) == PROTOBUF and into is not None:
        return wire.decode(raw, into)
    body = _decode(raw, content_type)
    if isinstance(body, dict):
        return body
    raise errors.bad_request("the request body must be a JSON object")


def decode_patch(raw: bytes, kind: PatchType) -> dict | list:
    """A PATCH body: a list of operations for a JSON patch, an object for the merge patches."""
    body = _decode(raw, "application/json")
    if isinstance(body, dict) or (kind is PatchType.JSON and isinstance(body, list)):
        return body
    raise errors.bad_request("the request body must be a JSON object")


def _decode(raw: bytes, content_type: str | None) -> object:
    kind = media_type(content_type)
    if kind == PROTOBUF:
        raise errors.unsupported_media_type(kind, ["application/json", "application/yaml"])
    try:
        if kind in YAML_TYPES:
            return yaml.safe_load(raw.decode("utf-8"))
        return json.loads(raw.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise errors.bad_request(f"the request body is not valid JSON or YAML: {error}") from None


def patch_type(content_type: str | None) -> PatchType:
    kind = media_type(content_type)
    try:
        return PatchType(kind)
    except ValueError:
        raise errors.unsupported_media_type(kind, [p.value for p in PatchType]) from None


@dataclass(frozen=True)
class WriteParams:
    strict: bool
    warn: bool
    dry_run: bool


def write_params(query: Mapping[str, str]) -> WriteParams:
    validation = query.get("fieldValidation", "Warn")
    if validation not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f'fieldValidation must be one of Strict, Warn, Ignore, not "{validation}"')
    dry_run = query.get("dryRun", "")
    if dry_run not in ("", "All"):
        raise errors.bad_request(f'dryRun must be "All" or unset, not "{dry_run}"')
    return WriteParams(validation == "Strict", validation == "Warn", dry_run == "All")


def encode_continue(after: tuple[str, str] | None, revision: int) -> str | None:
    if after is None:
        return None
    token = json.dumps({"after": list(after), "rv": revision}).encode()
    return base64.urlsafe_b64encode(token).decode()


def list_options(query: Mapping[str, str], field_paths: frozenset[str] | None = None) -> ListOptions:
    try:
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"), field_paths)
    except SelectorError as error:
        raise errors.bad_request(str(error)) from None
    limit = query.get("limit")
    after = None
    if token := query.get("continue"):
        try:
            after = tuple(json.loads(base64.urlsafe_b64decode(token.encode()))["after"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise errors.bad_request("continue key is not valid: the token could not be decoded") from None
    try:
        limit_value = int(limit) if limit else None
    except ValueError:
        raise errors.bad_request(f'limit must be an integer, not "{limit}"') from None
    return ListOptions(labels, fields, limit_value if limit_value and limit_value > 0 else None, after)


def delete_options(query: Mapping[str, str], body: dict | None) -> DeleteOptions:
    """Options from the query string, overridden by a ``DeleteOptions`` body (kubectl sends one)."""
    body = body or {}
    policy = body.get("propagationPolicy") or query.get("propagationPolicy")
    if body.get("orphanDependents") is True or query.get("orphanDependents") == "true":
        policy = policy or PropagationPolicy.ORPHAN.value
    grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
    preconditions = body.get("preconditions") or {}
    dry_run = body.get("dryRun") or ([query["dryRun"]] if query.get("dryRun") else [])
    try:
        return DeleteOptions(
            propagation=PropagationPolicy(policy) if policy else None,
            grace_period_seconds=int(grace) if grace is not None else None,
            precondition_uid=preconditions.get("uid"),
            precondition_resource_version=preconditions.get("resourceVersion"),
            dry_run="All" in dry_run,
        )
    except ValueError as error:
        raise errors.bad_request(f"invalid delete options: {error}") from None
