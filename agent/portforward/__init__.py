"""``kubectl port-forward`` on the node: the kubelet's side of kubectl's SPDY session.

:mod:`~agent.portforward.session` holds every rule as a pure state machine,
:mod:`~agent.portforward.netns` makes sockets inside a pod's network namespace, and
:mod:`~agent.portforward.server` is the endpoint route that drives both.
"""
