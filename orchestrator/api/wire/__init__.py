"""Kubernetes' protobuf wire format: the ``application/vnd.kubernetes.protobuf`` bodies kubectl's
typed clients send (``kubectl create deployment``, ``create secret`` …) and protobuf answers.

Design:

* **The schema is ours and declarative.** Each kind's messages are a table in
  :mod:`~orchestrator.api.wire.tables`, one line per message in the notation of
  :mod:`~orchestrator.api.wire.notation`: field names and numbers (facts of Kubernetes' wire
  format, looked up in its ``generated.proto`` files), plus how each Go field treats zero values.
  Types come from the pydantic models in :mod:`orchestrator.api` wherever they can tell them, so a
  table says only what the model cannot (``Time``, ``bytes``, shapes dockyard keeps as loose
  dicts). A new kind's wire schema is its messages' lines in its group's table; its ``…List``
  message follows from the kind registry.
* **The bytes are Google's.** :mod:`~orchestrator.api.wire.schema` turns the tables into
  ``descriptor_pb2`` file descriptors and protobuf's runtime builds the message classes
  (``message_factory``); nothing here writes a varint.
* **Decoding ends where JSON decoding starts.** :mod:`~orchestrator.api.wire.codec` maps messages
  to the same wire-form dicts Kubernetes' JSON encoder would write for the same Go object (absent
  versus zero, ``Time``, ``Quantity``, ``IntOrString``, base64 bytes), so decoding, defaulting,
  validation, admission and patches never know which format a body came in.
* **Errors are kube-apiserver's.** :mod:`~orchestrator.api.wire.envelope` checks the ``k8s\\x00``
  envelope and the kind against what the route expects, and words refusals as Kubernetes does.

The package is pure, like the rest of :mod:`orchestrator.api`: bytes in, dicts out.
"""

from orchestrator.api.wire.codec import WireValueError
from orchestrator.api.wire.envelope import (
    DELETE_OPTIONS, MAGIC, MEDIA_TYPE, WATCH_MEDIA_TYPE, Into, NotEncodable, decode, encode, encode_watch_event,
)

__all__ = ["DELETE_OPTIONS", "MAGIC", "MEDIA_TYPE", "WATCH_MEDIA_TYPE", "Into", "NotEncodable", "WireValueError",
           "decode", "encode", "encode_watch_event"]
