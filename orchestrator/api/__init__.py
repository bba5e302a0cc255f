"""dockyard's object model: Kubernetes-shaped schemas, defaults, validation and the kind registry.

This package is pure (no I/O, no threads, no clock) so that the API server, the controllers, the
scheduler and the node agent can all import it. The flow a request takes through it is:

    body ──decode──► wire dict ──apply_defaults──► wire dict ──validate──► stored

* ``meta``, ``containers``, ``pod``, ``core``, ``apps``, ``discovery``: pydantic models with
  Kubernetes' field names (camelCase on the wire) and the enums other modules use.
* ``registry``: the kinds the API server routes over (``KINDS``, ``kind_for``, ``resource_for``).
* ``decode``: body → wire dict, with Kubernetes' strict/warn handling of unknown fields.
* ``defaults``: ``apply_defaults`` (what the Kubernetes API server adds) and
  ``prepare_for_update`` (what a kind's update strategy does first).
* ``validation``: ``validate``, Kubernetes' rules and messages, raising ``errors.invalid``; the
  rules themselves are in ``meta_validation``, ``container_validation``, ``pod_validation`` and
  ``network_validation``.
* ``names``, ``quantity``, ``field``: the small vocabularies those are built from (name and label
  rules, resource quantities, field paths and field errors).
* ``selectors``, ``patch*``, ``errors``: label/field selectors, patch formats, API errors.

Objects travel as plain ``dict`` in wire form everywhere; the models are the schema, not the
currency. That keeps the store, patches and watch events free of pydantic, and makes
``model_dump(by_alias=True, exclude_none=True, mode="json")`` the single way back to the wire.
"""
