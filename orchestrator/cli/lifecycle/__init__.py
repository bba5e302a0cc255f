"""The local cluster's lifecycle: ``dockyard up``, ``down`` and ``status``.

A local cluster is a ``dockyard server`` and N ``dockyard agent`` processes on this machine,
sharing its Docker engine, all described by one state directory: :mod:`.plan` decides what to
start, :mod:`.processes` starts, finds and stops the background processes, and :mod:`.up`,
:mod:`.down` and :mod:`.status` are the three commands.
"""
