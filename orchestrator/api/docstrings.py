"""The docstrings written under model fields: how a model documents itself.

A field's description is the string literal right below it in the class body::

    class DeploymentSpec(KubeModel):
        replicas: int | None = None
        \"\"\"How many pods to run. Defaults to 1; kubectl scale changes it.\"\"\"

This is pydantic's ``use_attribute_docstrings`` convention, read here from the module's source
instead of at class creation: pydantic would parse the source of every model at every import of
:mod:`orchestrator.api` (about 100 ms per process, measured — in the agent, the CLI and the server
alike), while the only reader, the OpenAPI document, is built once per server process. Each module
is parsed once, on the first question about one of its classes.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys

#: class qualified name → {attribute name → its docstring}, for one module
ModuleDocs = dict[str, dict[str, str]]


def attribute_docstring(cls: type, attribute: str) -> str | None:
    """The docstring written under ``attribute`` in the body of ``cls`` itself (not its bases)."""
    return _module_docs(cls.__module__).get(cls.__qualname__, {}).get(attribute)


@functools.cache
def _module_docs(module_name: str) -> ModuleDocs:
    module = sys.modules.get(module_name)
    try:
        source = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        return {}
    docs: ModuleDocs = {}
    _collect(ast.parse(source).body, "", docs)
    return docs


def _collect(body: list[ast.stmt], prefix: str, docs: ModuleDocs) -> None:
    for node in body:
        if not isinstance(node, ast.ClassDef):
            continue
        name = f"{prefix}{node.name}"
        found = docs.setdefault(name, {})
        for statement, following in zip(node.body, node.body[1:]):
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) \
                    and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant) \
                    and isinstance(following.value.value, str):
                found[statement.target.id] = following.value.value
        _collect(node.body, f"{name}.", docs)
