"""dockyard's protobuf wire tables, one module per API group (core/v1 in three).

Each module declares :class:`~orchestrator.api.wire.schema.Package` values in the notation of
:mod:`orchestrator.api.wire.notation`. To give a new kind its wire schema, add its messages (and
the kind's name to ``kinds``) to its group's module, or a new module listed in :data:`PACKAGES`.
"""

from __future__ import annotations

from orchestrator.api.wire.tables.apps import APPS
from orchestrator.api.wire.tables.coordination import COORDINATION
from orchestrator.api.wire.tables.core import OBJECTS
from orchestrator.api.wire.tables.core_pods import PODS
from orchestrator.api.wire.tables.core_volumes import VOLUMES
from orchestrator.api.wire.tables.discovery import DISCOVERY
from orchestrator.api.wire.tables.meta import INTSTR, META, RESOURCE, RUNTIME, UNVERSIONED
from orchestrator.api.wire.tables.subresources import AUTOSCALING, POLICY

PACKAGES = (META, RUNTIME, RESOURCE, INTSTR, OBJECTS, PODS, VOLUMES, APPS, DISCOVERY, COORDINATION,
            AUTOSCALING, POLICY)

__all__ = ["PACKAGES", "UNVERSIONED"]
