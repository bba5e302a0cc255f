"""meta/v1 and the apimachinery building blocks: object and list metadata, selectors, Status,
DeleteOptions, watch events, and the special types (Time, Quantity, IntOrString …) with their
message shapes. Numbers are Kubernetes' (k8s.io/apimachinery's ``generated.proto`` files)."""

from __future__ import annotations

from orchestrator.api.meta import (
    Condition, LabelSelector, LabelSelectorRequirement, ListMeta, ManagedFieldsEntry, ObjectMeta, OwnerReference,
)
from orchestrator.api.wire.schema import Package

META = Package("k8s.io.apimachinery.pkg.apis.meta.v1", "meta.k8s.io/v1", {
    "ObjectMeta": (ObjectMeta,
        "name=1 generateName=2 namespace=3 selfLink=4 uid=5 resourceVersion=6 generation=7 "
        "creationTimestamp=8:Time deletionTimestamp=9?:Time deletionGracePeriodSeconds=10? labels=11 "
        "annotations=12 ownerReferences=13 finalizers=14 managedFields=17:[]ManagedFieldsEntry"),
    "OwnerReference": (OwnerReference, "apiVersion=5! kind=1! name=3! uid=4! controller=6? blockOwnerDeletion=7?"),
    "ManagedFieldsEntry": (ManagedFieldsEntry,
        "manager=1:string operation=2:string apiVersion=3:string time=4?:Time fieldsType=6:string "
        "fieldsV1=7?:FieldsV1 subresource=8:string"),
    "ListMeta": (ListMeta, "selfLink=1 resourceVersion=2 continue=3 remainingItemCount=4?"),
    "LabelSelector": (LabelSelector, "matchLabels=1 matchExpressions=2"),
    "LabelSelectorRequirement": (LabelSelectorRequirement, "key=1! operator=2! values=3"),
    "Condition": (Condition,
        "type=1!:string status=2!:string observedGeneration=3:int lastTransitionTime=4:Time reason=5!:string "
        "message=6!:string"),
    "DeleteOptions": (None,
        "gracePeriodSeconds=1?:int preconditions=2?:Preconditions orphanDependents=3?:bool "
        "propagationPolicy=4?:string dryRun=5:[]string ignoreStoreReadErrorWithClusterBreakingPotential=6?:bool"),
    "Preconditions": (None, "uid=1?:string resourceVersion=2?:string"),
    "Status": (None,
        "metadata=1:ListMeta status=2:string message=3:string reason=4:string details=5?:StatusDetails "
        "code=6:int"),
    "StatusDetails": (None,
        "name=1:string group=2:string kind=3:string uid=6:string causes=4:[]StatusCause retryAfterSeconds=5:int"),
    "StatusCause": (None, "reason=1:string message=2:string field=3:string"),
    "WatchEvent": (None, "type=1!:string object=2:RawExtension"),
    "Time": (None, "seconds=1:int nanos=2:int"),
    "MicroTime": (None, "seconds=1:int nanos=2:int"),
    "FieldsV1": (None, "Raw=1:bytes"),
}, kinds=("DeleteOptions", "WatchEvent"))

RUNTIME = Package("k8s.io.apimachinery.pkg.runtime", None, {
    "TypeMeta": (None, "apiVersion=1:string kind=2:string"),
    "Unknown": (None, "typeMeta=1:TypeMeta raw=2:bytes contentEncoding=3:string contentType=4:string"),
    "RawExtension": (None, "raw=1:bytes"),
})

RESOURCE = Package("k8s.io.apimachinery.pkg.api.resource", None, {
    "Quantity": (None, "string=1:string"),
})

INTSTR = Package("k8s.io.apimachinery.pkg.util.intstr", None, {
    "IntOrString": (None, "type=1:int intVal=2:int strVal=3:string"),
})

#: kinds outside any one group: ``metav1.Status`` travels as ``v1 Status``
UNVERSIONED = {("v1", "Status"): f"{META.name}.Status"}
