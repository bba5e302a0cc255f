"""ConfigMap and Secret tables: they show how many keys they hold, never the values."""

from __future__ import annotations

from datetime import datetime

from .columns import AGE, NAME, STRING, Cell, Column, KindPrinter
from .fields import Object, field, mapping, name_of, text
from .humanize import since

# kubectl declares both DATA columns as strings although the cells are integers.
CONFIG_MAP_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Data", STRING, "Data contains the configuration data."),
    AGE,
)
SECRET_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Type", STRING, "Used to facilitate programmatic handling of secret data."),
    Column("Data", STRING, "Data contains the secret data."),
    AGE,
)


# The API defaults a Secret's type; an undefaulted object is shown as a real server would show it.
DEFAULT_SECRET_TYPE = "Opaque"


def config_map_cells(config_map: Object, now: datetime) -> list[Cell]:
    keys = len(mapping(config_map, "data")) + len(mapping(config_map, "binaryData"))
    return [name_of(config_map), keys, since(field(config_map, "metadata", "creationTimestamp"), now)]


def secret_cells(secret: Object, now: datetime) -> list[Cell]:
    # Only `data` counts: the API folds write-only `stringData` into it on write.
    return [
        name_of(secret),
        text(secret, "type") or DEFAULT_SECRET_TYPE,
        len(mapping(secret, "data")),
        since(field(secret, "metadata", "creationTimestamp"), now),
    ]


CONFIG_MAP_PRINTER = KindPrinter(CONFIG_MAP_COLUMNS, config_map_cells)
SECRET_PRINTER = KindPrinter(SECRET_COLUMNS, secret_cells)
