"""Print a Table the way ``kubectl get`` does, byte for byte.

kubectl writes tab-separated cells through Go's ``text/tabwriter`` configured with a minimum cell
width of 6 and a padding of 3 spaces (cli-runtime's ``GetNewTabWriter``); the last cell of a line
is never padded. Headers are the column names upper-cased; priority-1 columns appear only with
``-o wide``. A NAMESPACE column (``-A``) and a ``kind/`` prefix on names (``kubectl get deploy,rs``)
are client-side decorations, applied here as kubectl's ``decorateTable`` does.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .columns import DEFAULT_PRIORITY, NAME_FORMAT, STRING
from .fields import field

TABWRITER_MIN_WIDTH = 6
TABWRITER_PADDING = 3
NAMESPACE_HEADER = "NAMESPACE"
# kubectl cuts a cell at the first line break and marks the cut.
_LINE_BREAKS = "\f\n\r"
_TRUNCATION_MARK = "..."
# Terminal escape characters are neutralised (kubernetes/kubernetes#101695).
_TERMINAL_ESCAPES = (("\x1b", "^["), ("\r", "\\r"))


def print_table(
    table: Mapping[str, Any],
    *,
    wide: bool,
    no_headers: bool = False,
    show_namespace: bool = False,
    show_kind: str | None = None,
) -> str:
    """Render a Table as kubectl prints it; ``""`` when there are no rows (kubectl prints nothing).

    ``show_kind`` is the prefix kubectl puts before names when listing several kinds at once,
    e.g. ``"deployment.apps"`` gives ``deployment.apps/web``. Every line ends with a newline.
    """
    rows = table.get("rows") or []
    if not rows:
        return ""
    columns = table.get("columnDefinitions") or []
    visible = [
        index
        for index, column in enumerate(columns)
        if wide or column.get("priority", DEFAULT_PRIORITY) == DEFAULT_PRIORITY
    ]
    name_index = _name_column(columns) if show_kind else None
    lines: list[list[str]] = []
    if not no_headers:
        headers = [str(columns[i].get("name", "")).upper() for i in visible]
        lines.append(([NAMESPACE_HEADER] if show_namespace else []) + headers)
    for row in rows:
        lines.append(_row_line(row, visible, name_index, show_kind, show_namespace))
    return "".join(line + "\n" for line in align(lines))


def _name_column(columns: Sequence[Mapping[str, Any]]) -> int | None:
    for index, column in enumerate(columns):
        if column.get("format") == NAME_FORMAT and column.get("type") == STRING:
            return index
    return None


def _row_line(
    row: Mapping[str, Any],
    visible: list[int],
    name_index: int | None,
    show_kind: str | None,
    show_namespace: bool,
) -> list[str]:
    cells = list(row.get("cells") or [])
    if name_index is not None and name_index < len(cells):
        cells[name_index] = f"{show_kind}/{format_cell(cells[name_index])}"
    # Cells past the column definitions are dropped; a short row just ends early (kubectl does both).
    line = [format_cell(cells[i]) for i in visible if i < len(cells)]
    if show_namespace:
        namespace = field(row.get("object"), "metadata", "namespace")
        line.insert(0, namespace if isinstance(namespace, str) else "")
    return line


def format_cell(cell: Any) -> str:
    """One cell as kubectl writes it: strings cut at line breaks, Go's formatting for the rest."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        rendered = cell
        breaks = [rendered.find(c) for c in _LINE_BREAKS if c in rendered]
        if breaks:
            rendered = rendered[: min(breaks)] + _TRUNCATION_MARK
    elif isinstance(cell, bool):
        rendered = "true" if cell else "false"  # Go's fmt.Sprint
    else:
        rendered = str(cell)
    for character, replacement in _TERMINAL_ESCAPES:
        rendered = rendered.replace(character, replacement)
    return rendered


def align(lines: list[list[str]]) -> list[str]:
    """Go tabwriter alignment: pad every cell but a line's last to its column's width."""
    column_count = max((len(line) for line in lines), default=0)
    widths = []
    for index in range(column_count - 1):
        # Only cells followed by another cell (tab-terminated) take part in a column's width.
        terminated = [len(line[index]) for line in lines if index < len(line) - 1]
        widths.append(max(TABWRITER_MIN_WIDTH, max(terminated, default=0) + TABWRITER_PADDING))
    return [_padded(line, widths) for line in lines]


def _padded(line: list[str], widths: list[int]) -> str:
    if not line:
        return ""
    return "".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])) + line[-1]
