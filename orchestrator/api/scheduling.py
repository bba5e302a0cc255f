"""Where a pod may run: tolerations, affinity, topology spread and scheduling gates.

dockyard's scheduler reads ``nodeSelector`` and ``tolerations`` (see :mod:`orchestrator.scheduler`)
and places pods by their requests. Affinity, anti-affinity, topology spread constraints and
scheduling gates are modelled as Kubernetes has them, so manifests that use them are accepted,
checked and explained; their descriptions say that the scheduler does not act on them yet.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from orchestrator.api.meta import REQUIRED, KubeModel, LabelSelector


class TolerationOperator(str, Enum):
    EXISTS = "Exists"
    EQUAL = "Equal"


class Toleration(KubeModel):
    """Lets the pod be scheduled onto (or keep running on) nodes with a matching taint. A toleration
    matches a taint with the same key and effect when the operator is Exists, or Equal with the same
    value."""

    key: str | None = None
    """The taint key to match. Empty with operator Exists matches every taint."""
    operator: str | None = None
    """Equal (the default: the taint's value must be value) or Exists (any value, so leave value
    empty)."""
    value: str | None = None
    """The taint value to match with operator Equal."""
    effect: str | None = None
    """The taint effect to match: NoSchedule, PreferNoSchedule or NoExecute; empty matches all
    three."""
    toleration_seconds: int | None = None
    """With effect NoExecute: how long the pod stays on a node after the taint appears before it is
    evicted; unset tolerates it forever. The server gives every pod tolerations of not-ready and
    unreachable nodes, for 300 seconds unless the pod has its own."""


class NodeSelectorRequirement(KubeModel):
    """One test on a node's labels (or fields): a key, an operator and values."""

    key: str | None = None
    """The label key (or field name) the test reads."""
    operator: str | None = None
    """In, NotIn, Exists, DoesNotExist, Gt or Lt (Gt and Lt compare one integer value)."""
    values: list[str] | None = None
    """The values to compare with: one or more for In and NotIn, exactly one for Gt and Lt, none for
    Exists and DoesNotExist."""


class NodeSelectorTerm(KubeModel):
    """Tests on a node that must all pass; an empty term matches no node."""

    match_expressions: list[NodeSelectorRequirement] | None = None
    """Tests on the node's labels."""
    match_fields: list[NodeSelectorRequirement] | None = None
    """Tests on the node's fields; metadata.name is the only field supported."""


class NodeSelector(KubeModel):
    """Terms of which at least one must match a node."""

    node_selector_terms: list[NodeSelectorTerm] | None = Field(default=None, json_schema_extra=REQUIRED)
    """The terms, ORed together."""


class PreferredSchedulingTerm(KubeModel):
    """A node preference with a weight: nodes matching it score higher."""

    weight: int | None = None
    """How much matching counts, from 1 to 100."""
    preference: NodeSelectorTerm | None = Field(default=None, json_schema_extra=REQUIRED)
    """The tests a node should pass."""


class NodeAffinity(KubeModel):
    """Rules about the labels of the node a pod runs on; a richer nodeSelector."""

    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    """Only nodes matching one of these terms are candidates. A running pod stays where it is if its
    node's labels change later."""
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None
    """Nodes matching these terms are preferred, by the sum of the matching weights."""


class PodAffinityTerm(KubeModel):
    """Names pods by label and a topology key: the term holds for a node when such a pod runs on a
    node with the same value of that label (the same node, zone, region ...)."""

    label_selector: LabelSelector | None = None
    """The pods the term is about."""
    namespaces: list[str] | None = None
    """The namespaces to look for those pods in; defaults to the pod's own."""
    topology_key: str | None = None
    """The node label that defines "the same place", such as kubernetes.io/hostname (the same node)
    or topology.kubernetes.io/zone (the same zone)."""
    namespace_selector: LabelSelector | None = None
    """Namespaces to look in, chosen by their labels; added to namespaces. An empty selector means
    every namespace."""
    match_label_keys: list[str] | None = None
    """Label keys whose values are copied from the incoming pod into labelSelector as In
    requirements (pod-template-hash keeps a rollout's pods apart)."""
    mismatch_label_keys: list[str] | None = None
    """Label keys whose values are copied from the incoming pod into labelSelector as NotIn
    requirements."""


class WeightedPodAffinityTerm(KubeModel):
    """A pod affinity or anti-affinity preference with a weight."""

    weight: int | None = None
    """How much the term counts, from 1 to 100."""
    pod_affinity_term: PodAffinityTerm | None = Field(default=None, json_schema_extra=REQUIRED)
    """The term."""


class PodAffinity(KubeModel):
    """Rules that put the pod near other pods (in the same topology domain)."""

    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    """Every term must hold for a node to be a candidate."""
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None
    """Nodes where these terms hold are preferred, by the sum of their weights."""


class PodAntiAffinity(KubeModel):
    """Rules that keep the pod away from other pods (out of their topology domain), such as one
    replica per node."""

    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    """No term may hold for a node to be a candidate."""
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None
    """Nodes where these terms hold are avoided, by the sum of their weights."""


class Affinity(KubeModel):
    """Scheduling rules relative to node labels and to other pods. dockyard's scheduler does not
    apply them yet: it stores them and uses nodeSelector, tolerations and resource requests."""

    node_affinity: NodeAffinity | None = None
    """Which nodes the pod may or should run on, by their labels."""
    pod_affinity: PodAffinity | None = None
    """Which pods this one should run close to."""
    pod_anti_affinity: PodAntiAffinity | None = None
    """Which pods this one should keep away from."""


class TopologySpreadConstraint(KubeModel):
    """Spreads matching pods evenly over topology domains (nodes, zones). dockyard's scheduler does
    not apply it yet; it spreads the pods of one owner over nodes on its own."""

    max_skew: int | None = None
    """The largest difference allowed between the number of matching pods in any two domains; at
    least 1."""
    topology_key: str | None = None
    """The node label whose values are the domains, such as topology.kubernetes.io/zone."""
    when_unsatisfiable: str | None = None
    """DoNotSchedule (keep the pod pending rather than exceed maxSkew) or ScheduleAnyway (prefer the
    least skewed node)."""
    label_selector: LabelSelector | None = None
    """The pods to count."""
    min_domains: int | None = None
    """With DoNotSchedule: the least number of domains to count, empty ones included."""
    node_affinity_policy: str | None = None
    """Honor (the default) or Ignore: whether nodes the pod's node affinity excludes count."""
    node_taints_policy: str | None = None
    """Honor or Ignore (the default): whether nodes with taints the pod does not tolerate count."""
    match_label_keys: list[str] | None = None
    """Label keys whose values are copied from the incoming pod into labelSelector."""


class PodSchedulingGate(KubeModel):
    """A gate that holds the pod back from scheduling until it is removed. dockyard's scheduler does
    not wait for gates yet."""

    name: str | None = None
    """The gate's name, unique in the pod."""
