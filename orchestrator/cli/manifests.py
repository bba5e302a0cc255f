"""Reading manifests the way ``kubectl apply -f`` does: a file, a directory, or ``-`` (stdin).

Multi-document YAML (``---``) and ``kind: List`` are flattened into objects; empty documents are
skipped; a document without ``kind`` or ``apiVersion`` is an error that names the file and the
document's position, since the server could not route it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(Exception):
    pass


@dataclass(frozen=True)
class Manifest:
    source: str
    object: dict

    @property
    def kind(self) -> str:
        return self.object["kind"]

    @property
    def name(self) -> str:
        return (self.object.get("metadata") or {}).get("name", "")


def _files(path: str) -> list[tuple[str, str]]:
    if path == "-":
        return [("STDIN", sys.stdin.read())]
    target = Path(path)
    if target.is_dir():
        return [(str(f), f.read_text()) for f in sorted(target.iterdir()) if f.suffix in MANIFEST_SUFFIXES]
    if not target.exists():
        raise ManifestError(f'error: the path "{path}" does not exist')
    return [(str(target), target.read_text())]


def _flatten(doc: dict) -> list[dict]:
    if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
        return [item for entry in doc["items"] for item in _flatten(entry)]
    return [doc]


def load_manifests(paths: list[str]) -> list[Manifest]:
    found = []
    for path in paths:
        for source, text in _files(path):
            try:
                documents = list(yaml.safe_load_all(text))
            except yaml.YAMLError as error:
                raise ManifestError(f'error: error parsing {source}: {error}') from None
            for index, doc in enumerate(documents):
                if doc is None:
                    continue
                if not isinstance(doc, dict):
                    raise ManifestError(f"error: error parsing {source}: document {index + 1} is not a mapping")
                for obj in _flatten(doc):
                    if not obj.get("kind") or not obj.get("apiVersion"):
                        raise ManifestError(
                            f"error: error validating data from {source} (document {index + 1}): "
                            "[apiVersion not set, kind not set]; every object needs both")
                    found.append(Manifest(source, obj))
    if not found:
        raise ManifestError("error: no objects passed to apply")
    return found
