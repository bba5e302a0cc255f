"""Column definitions and the per-kind printer contract shared by every kind module.

A :class:`Column` is one ``meta.k8s.io/v1`` ``TableColumnDefinition``. ``priority`` 0 columns are
the default view; priority 1 columns are the ``-o wide`` extras. The server always sends every
column and lets the client hide the wide ones, exactly as kube-apiserver does.

``type`` follows what kubectl's printers declare, which is not always what the cells hold: the
Deployment UP-TO-DATE column is declared ``string`` but carries integers, for instance. Clients
only use the type as a hint, so the declarations are copied rather than "fixed".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from .fields import Object, items, text

# OpenAPI type names used in column definitions.
STRING = "string"
INTEGER = "integer"
# The one format kubectl acts on: it marks the column that `kubectl get a,b` prefixes with the kind.
NAME_FORMAT = "name"
# Priority 1 is what `-o wide` reveals; 0 is always shown.
DEFAULT_PRIORITY = 0
WIDE_PRIORITY = 1

NONE = "<none>"  # kubectl's marker for an empty value in a cell

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients "
    "may not set this value. It is represented in RFC3339 form and is in UTC.\n\n"
    "Populated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
CONTAINERS_DESCRIPTION = "Names of each container in the template."
IMAGES_DESCRIPTION = "Images referenced by each container in the template."

Cell = str | int | bool | None


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    priority: int = DEFAULT_PRIORITY
    format: str = ""

    def definition(self) -> dict[str, Any]:
        """The column as it appears in a Table's ``columnDefinitions``."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


def wide(name: str, type_: str, description: str) -> Column:
    """A column that only `-o wide` shows."""
    return Column(name, type_, description, priority=WIDE_PRIORITY)


NAME = Column("Name", STRING, NAME_DESCRIPTION, format=NAME_FORMAT)
AGE = Column("Age", STRING, AGE_DESCRIPTION)
WIDE_CONTAINERS = wide("Containers", STRING, CONTAINERS_DESCRIPTION)
WIDE_IMAGES = wide("Images", STRING, IMAGES_DESCRIPTION)


@dataclass(frozen=True)
class KindPrinter:
    """How one kind becomes rows: its columns and a function from object to cells.

    ``conditions`` optionally yields the row's ``TableRowCondition`` list (pods mark finished rows).
    """

    columns: tuple[Column, ...]
    cells: Callable[[Object, datetime], list[Cell]]
    conditions: Callable[[Object], list[dict[str, str]]] | None = None


def or_none(value: str) -> str:
    """Empty strings print as ``<none>`` in many kubectl columns."""
    return value if value else NONE


def join_containers(obj: Object, *template_path: str) -> list[Cell]:
    """The CONTAINERS and IMAGES wide cells: names and images, comma-joined, in spec order."""
    containers = items(obj, *template_path, "containers")
    names = ",".join(text(c, "name") for c in containers)
    images = ",".join(text(c, "image") for c in containers)
    return [names, images]
