"""A pod template in kubectl's describe layout (``DescribePodTemplate``), as ``rollout history
--revision N`` prints it.

kubectl writes this block through a plain prefix writer — two spaces per level and literal tab
characters between a field and its value, *not* through a tab writer — so the text here keeps
the tabs as well, and the two tools print byte for byte the same thing for the templates
dockyard runs (checked against kubectl 1.32 in ``tests/integration/test_deployment_crash.py``).

Where it differs from kubectl, on purpose or for want of the data:

* quantities (resources) are printed as stored, not re-canonicalised (kubectl would print
  ``0.5`` as ``500m``);
* an environment variable from ``resourceFieldRef`` shows the resource but not the value
  kubectl computes from the container's limits;
* volume kinds other than emptyDir, hostPath, configMap, secret, persistentVolumeClaim, nfs and
  downwardAPI show only their kind, where kubectl lists each kind's own fields;
* ``topologySpreadConstraints`` are not shown (dockyard's scheduler does not use them).
"""

from __future__ import annotations

from urllib.parse import quote

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: kubectl folds an annotation whose ``key: value`` is longer than this onto its own lines
MAX_ANNOTATION_LEN = 140


def describe_pod_template(template: dict | None) -> str:
    """The ``Pod Template:`` block for one template (a ReplicaSet's ``spec.template``)."""
    out = ["Pod Template:\n"]
    if template is None:
        out.append("  <unset>")
        return "".join(out)
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    out += _labels("  Labels", meta.get("labels"))
    if meta.get("annotations"):
        out += _annotations("  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        out.append(f"  Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        out += _containers("Init Containers", spec["initContainers"])
    out += _containers("Containers", spec.get("containers") or [])
    out += _volumes(spec.get("volumes") or [])
    if spec.get("priorityClassName"):
        out.append(f"  Priority Class Name:\t{spec['priorityClassName']}\n")
    out += _labels("  Node-Selectors", spec.get("nodeSelector"))
    out += _tolerations("  Tolerations", spec.get("tolerations") or [])
    return "".join(out)


# ── kubectl's multi-line maps ────────────────────────────────────────────────────────────────


def _labels(title: str, labels: dict | None) -> list[str]:
    if not labels:
        return [f"{title}:\t<none>\n"]
    # the first pair follows the title; the others go on their own lines, after a tab
    return [f"{title}:\t"] + [("\t" if i else "") + f"{key}={labels[key]}\n"
                              for i, key in enumerate(sorted(labels))]


def _annotations(title: str, annotations: dict) -> list[str]:
    keys = sorted(k for k in annotations if k != LAST_APPLIED)
    if not keys:
        return [f"{title}:\t<none>\n"]
    out = [f"{title}:\t"]
    for i, key in enumerate(keys):
        if i:
            out.append("\t")
        value = annotations[key].removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            out.append(f"{key}:\n")
            out += [f"\t  {_shorten(line, MAX_ANNOTATION_LEN - 2)}\n" for line in value.split("\n")]
        else:
            out.append(f"{key}: {value}\n")
    return out


def _shorten(text: str, limit: int) -> str:
    return text[:limit] + "..." if len(text) > limit else text


def _tolerations(title: str, tolerations: list[dict]) -> list[str]:
    if not tolerations:
        return [f"{title}:\t<none>\n"]
    out = [f"{title}:\t"]
    for i, toleration in enumerate(sorted(tolerations, key=lambda t: t.get("key") or "")):
        text = ("\t" if i else "") + (toleration.get("key") or "")
        if toleration.get("value"):
            text += f"={toleration['value']}"
        if toleration.get("effect"):
            text += f":{toleration['effect']}"
        if toleration.get("operator") == "Exists" and not toleration.get("value"):
            # an Exists toleration without key and effect tolerates everything
            text += " op=Exists" if toleration.get("key") or toleration.get("effect") else "op=Exists"
        if toleration.get("tolerationSeconds") is not None:
            text += f" for {toleration['tolerationSeconds']}s"
        out.append(text + "\n")
    return out


# ── containers ───────────────────────────────────────────────────────────────────────────────


def _containers(label: str, containers: list[dict]) -> list[str]:
    out = [f"  {label}: <none>\n" if not containers else f"  {label}:\n"]
    for container in containers:
        out += _basic_info(container)
        out += _command(container)
        out += _resources(container.get("resources") or {})
        out += _probes(container)
        if container.get("envFrom"):
            out += _env_from(container["envFrom"])
        out += _env(container.get("env") or [])
        out += _mounts(container)
    return out


def _basic_info(container: dict) -> list[str]:
    ports = container.get("ports") or []
    out = [f"   {container['name']}:\n", f"    Image:\t{container.get('image', '')}\n"]
    for single, plural, field in (("Port", "Ports", "containerPort"), ("Host Port", "Host Ports", "hostPort")):
        text = ", ".join(f"{p.get(field) or 0}/{p.get('protocol') or 'TCP'}" for p in ports)
        out.append(f"    {plural}:\t{text}\n" if "," in text else f"    {single}:\t{text or '<none>'}\n")
    seccomp = (container.get("securityContext") or {}).get("seccompProfile")
    if seccomp:
        out.append(f"    SeccompProfile:\t{seccomp.get('type', '')}\n")
        if seccomp.get("type") == "Localhost":
            out.append(f"      LocalhostProfile:\t{seccomp.get('localhostProfile', '')}\n")
    return out


def _command(container: dict) -> list[str]:
    out = []
    for title, field in (("Command", "command"), ("Args", "args")):
        if container.get(field):
            out.append(f"    {title}:\n")
            out += [f"      {line}\n" for word in container[field] for line in word.split("\n")]
    return out


def _resources(resources: dict) -> list[str]:
    out = []
    for title, field in (("Limits", "limits"), ("Requests", "requests")):
        values = resources.get(field) or {}
        if values:
            out.append(f"    {title}:\n")
            out += [f"      {name}:\t{values[name]}\n" for name in sorted(values)]
    return out


def _probes(container: dict) -> list[str]:
    return [f"    {title}:\t{describe_probe(container[field])}\n"
            for title, field in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"),
                                 ("Startup", "startupProbe"))
            if container.get(field)]


def describe_probe(probe: dict) -> str:
    """kubectl's one-line probe summary: ``http-get http://:80/ delay=1s timeout=1s period=1s …``."""
    attrs = (f"delay={probe.get('initialDelaySeconds') or 0}s timeout={probe.get('timeoutSeconds') or 0}s "
             f"period={probe.get('periodSeconds') or 0}s #success={probe.get('successThreshold') or 0} "
             f"#failure={probe.get('failureThreshold') or 0}")
    if probe.get("exec") is not None:
        return f"exec [{' '.join(probe['exec'].get('command') or [])}] {attrs}"
    if probe.get("httpGet") is not None:
        get = probe["httpGet"]
        host, port = get.get("host") or "", str(get.get("port", ""))
        netloc = (f"[{host}]:{port}" if ":" in host else f"{host}:{port}") if port else host
        scheme = (get.get("scheme") or "").lower()
        url = (f"{scheme}:" if scheme else "") + f"//{netloc}" + quote(get.get("path") or "", safe="/:@!$&'()*+,;=-._~")
        return f"http-get {url} {attrs}"
    if probe.get("tcpSocket") is not None:
        socket = probe["tcpSocket"]
        return f"tcp-socket {socket.get('host') or ''}:{socket.get('port', '')} {attrs}"
    if probe.get("grpc") is not None:
        return f"grpc <pod>:{probe['grpc'].get('port')} {probe['grpc'].get('service') or ''} {attrs}"
    return f"unknown {attrs}"


def _env_from(sources: list[dict]) -> list[str]:
    out = ["    Environment Variables from:\n"]
    for source in sources:
        kind, ref = _env_from_ref(source)
        optional = "true" if ref.get("optional") else "false"
        prefixed = f" with prefix '{source['prefix']}'" if source.get("prefix") else ""
        out.append(f"      {ref.get('name', '')}\t{kind}{prefixed}\tOptional: {optional}\n")
    return out


def _env_from_ref(source: dict) -> tuple[str, dict]:
    """The kind and the reference of one ``envFrom`` entry: a ConfigMap's or a Secret's."""
    for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
        if source.get(field):
            return kind, source[field]
    return "", {}


def _env(variables: list[dict]) -> list[str]:
    out = ["    Environment:\t<none>\n" if not variables else "    Environment:\n"]
    for var in variables:
        source = var.get("valueFrom")
        if source is None:
            lines = (var.get("value") or "").split("\n")
            out.append(f"      {var['name']}:\t{lines[0]}\n")
            out += [f"      \t{line}\n" for line in lines[1:]]
        elif source.get("fieldRef"):
            ref = source["fieldRef"]
            # kubectl resolves the value only when describing a pod; for a template it is empty
            out.append(f"      {var['name']}:\t ({ref.get('apiVersion', '')}:{ref.get('fieldPath', '')})\n")
        elif source.get("resourceFieldRef"):
            # kubectl computes the value from the container's resources; dockyard leaves it out
            out.append(f"      {var['name']}:\t ({source['resourceFieldRef'].get('resource', '')})\n")
        else:
            for field, what in (("secretKeyRef", "in secret"), ("configMapKeyRef", "of config map")):
                if source.get(field):
                    ref = source[field]
                    optional = "true" if ref.get("optional") else "false"
                    out.append(f"      {var['name']}:\t<set to the key '{ref.get('key', '')}' {what} "
                               f"'{ref.get('name', '')}'>\tOptional: {optional}\n")
    return out


def _mounts(container: dict) -> list[str]:
    mounts = sorted(container.get("volumeMounts") or [], key=lambda m: m.get("mountPath", ""))
    out = ["    Mounts:\t<none>\n" if not mounts else "    Mounts:\n"]
    for mount in mounts:
        flags = ["ro" if mount.get("readOnly") else "rw"]
        if mount.get("subPath"):
            flags.append(f'path="{mount["subPath"]}"')
        out.append(f"      {mount.get('mountPath', '')} from {mount.get('name', '')} ({','.join(flags)})\n")
    return out


# ── volumes ──────────────────────────────────────────────────────────────────────────────────


def _volumes(volumes: list[dict]) -> list[str]:
    if not volumes:
        return ["  Volumes:\t<none>\n"]
    out = ["  Volumes:\n"]
    for volume in volumes:
        out.append(f"   {volume['name']}:\n")
        out += [f"    {line}\n" for line in _volume_source(volume)]
    return out


def _volume_source(volume: dict) -> list[str]:
    if volume.get("hostPath") is not None:
        source = volume["hostPath"]
        return ["Type:\tHostPath (bare host directory volume)", f"Path:\t{source.get('path', '')}",
                f"HostPathType:\t{source.get('type') or ''}"]
    if volume.get("emptyDir") is not None:
        source = volume["emptyDir"]
        return ["Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)",
                f"Medium:\t{source.get('medium') or ''}", f"SizeLimit:\t{source.get('sizeLimit') or '<unset>'}"]
    if volume.get("secret") is not None:
        source = volume["secret"]
        return ["Type:\tSecret (a volume populated by a Secret)", f"SecretName:\t{source.get('secretName', '')}",
                f"Optional:\t{'true' if source.get('optional') else 'false'}"]
    if volume.get("configMap") is not None:
        source = volume["configMap"]
        return ["Type:\tConfigMap (a volume populated by a ConfigMap)", f"Name:\t{source.get('name', '')}",
                f"Optional:\t{'true' if source.get('optional') else 'false'}"]
    if volume.get("persistentVolumeClaim") is not None:
        source = volume["persistentVolumeClaim"]
        return ["Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)",
                f"ClaimName:\t{source.get('claimName', '')}",
                f"ReadOnly:\t{'true' if source.get('readOnly') else 'false'}"]
    if volume.get("nfs") is not None:
        source = volume["nfs"]
        return ["Type:\tNFS (an NFS mount that lasts the lifetime of a pod)", f"Server:\t{source.get('server', '')}",
                f"Path:\t{source.get('path', '')}", f"ReadOnly:\t{'true' if source.get('readOnly') else 'false'}"]
    if volume.get("downwardAPI") is not None:
        items = volume["downwardAPI"].get("items") or []
        lines = ["Type:\tDownwardAPI (a volume populated by information about the pod)", "Items:"]
        for item in items:
            if item.get("fieldRef"):
                lines.append(f"  {item['fieldRef'].get('fieldPath', '')} -> {item.get('path', '')}")
            if item.get("resourceFieldRef"):
                lines.append(f"  {item['resourceFieldRef'].get('resource', '')} -> {item.get('path', '')}")
        return lines
    kind = next((key for key in volume if key != "name"), "<unknown>")
    return [f"Type:\t{kind}"]
