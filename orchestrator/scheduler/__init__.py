"""The scheduler: binds each pending pod to a node by filter → score → bind, with its reasons.

* :mod:`.snapshot` — what each pod asks for and what each node has left (pure);
* :mod:`.filters` — may the pod go to this node, and Kubernetes' reason when not (pure);
* :mod:`.scores` — least allocated plus spreading an owner's pods, 0–100 each (pure);
* :mod:`.plan` — one decision and its explanation (pure);
* :mod:`.scheduler` — the loop that reads pods and nodes, binds, and records Events.
"""
