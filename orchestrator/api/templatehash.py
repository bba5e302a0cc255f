"""The ``pod-template-hash``: which ReplicaSet of a Deployment runs which pod template.

Kubernetes (``controller.ComputeHash``) feeds the template into an FNV-32a hash, adds the
Deployment's ``collisionCount`` as 8 little-endian bytes when it is set, prints the 32-bit sum in
decimal and maps every digit through ``rand.SafeEncodeString``'s alphabet (no vowels, no 0/1/3,
so a hash never spells a word): that is why ReplicaSets are named like ``my-nginx-7484748b57``.

One deliberate difference: Kubernetes hashes Go's ``spew`` dump of its typed struct, which no
other language reproduces; dockyard hashes the template's canonical JSON (sorted keys, no
spaces). The format, the stability (same template → same hash, across restarts) and the
collision handling are Kubernetes'; the exact string for a given template is our own.
"""

from __future__ import annotations

import json

#: the label carrying the hash on a Deployment's ReplicaSets and pods
POD_TEMPLATE_HASH = "pod-template-hash"
#: k8s.io/apimachinery/pkg/util/rand's alphabet
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV32_OFFSET, _FNV32_PRIME = 0x811C9DC5, 0x01000193


def fnv32a(data: bytes) -> int:
    value = _FNV32_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """``rand.SafeEncodeString``: each character mapped into the safe alphabet by its code point."""
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in text)


def template_hash(template: dict, collision_count: int | None = None) -> str:
    """The hash of a pod template (as stored, without any ``pod-template-hash`` label)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(8, "little")
    return safe_encode(str(fnv32a(data)))
