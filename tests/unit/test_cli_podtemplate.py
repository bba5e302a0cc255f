"""kubectl's ``DescribePodTemplate`` layout, as ``rollout history --revision N`` prints it: literal
tabs between a field and its value, two spaces per level (kubectl does not tab-align this block)."""

from __future__ import annotations

from orchestrator.cli.podtemplate import describe_pod_template, describe_probe


def test_a_plain_template_prints_as_kubectl_does():
    template = {"metadata": {"labels": {"app": "webserver", "pod-template-hash": "764f6ffcc6"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.22.1"}]}}
    assert describe_pod_template(template) == (
        "Pod Template:\n"
        "  Labels:\tapp=webserver\n"
        "\tpod-template-hash=764f6ffcc6\n"
        "  Containers:\n"
        "   nginx:\n"
        "    Image:\tnginx:1.22.1\n"
        "    Port:\t<none>\n"
        "    Host Port:\t<none>\n"
        "    Environment:\t<none>\n"
        "    Mounts:\t<none>\n"
        "  Volumes:\t<none>\n"
        "  Node-Selectors:\t<none>\n"
        "  Tolerations:\t<none>\n")


def test_every_container_section_and_the_pod_level_fields():
    template = {
        "metadata": {"labels": {"app": "web"},
                     "annotations": {"kubernetes.io/change-cause": "kubectl set image " + "x" * 140,
                                     "team": "blue"}},
        "spec": {
            "serviceAccountName": "robot",
            "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "echo a\necho b"]}],
            "containers": [{
                "name": "web", "image": "nginx:latest",
                "args": ["--port", "80"],
                "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "hostPort": 5353,
                                                                     "protocol": "UDP"}],
                "resources": {"limits": {"memory": "128Mi", "cpu": "500m"}, "requests": {"cpu": "100m"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP"},
                                   "initialDelaySeconds": 1, "timeoutSeconds": 1, "periodSeconds": 2,
                                   "successThreshold": 1, "failureThreshold": 3},
                "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "APP_"}],
                "env": [{"name": "WAVE", "value": "2"},
                        {"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
                        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}],
                "volumeMounts": [{"name": "data", "mountPath": "/var/data", "readOnly": True},
                                 {"name": "cache", "mountPath": "/cache", "subPath": "web"}]}],
            "volumes": [{"name": "cache", "emptyDir": {}},
                        {"name": "data", "hostPath": {"path": "/srv/data", "type": "Directory"}}],
            "nodeSelector": {"disk": "ssd", "zone": "a"},
            "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}]}}
    assert describe_pod_template(template) == (
        "Pod Template:\n"
        "  Labels:\tapp=web\n"
        "  Annotations:\tkubernetes.io/change-cause:\n"
        f"\t  kubectl set image {'x' * 120}...\n"
        "\tteam: blue\n"
        "  Service Account:\trobot\n"
        "  Init Containers:\n"
        "   init:\n"
        "    Image:\tbusybox\n"
        "    Port:\t<none>\n"
        "    Host Port:\t<none>\n"
        "    Command:\n"
        "      sh\n"
        "      -c\n"
        "      echo a\n"
        "      echo b\n"
        "    Environment:\t<none>\n"
        "    Mounts:\t<none>\n"
        "  Containers:\n"
        "   web:\n"
        "    Image:\tnginx:latest\n"
        "    Ports:\t80/TCP, 53/UDP\n"
        "    Host Ports:\t0/TCP, 5353/UDP\n"
        "    Args:\n"
        "      --port\n"
        "      80\n"
        "    Limits:\n"
        "      cpu:\t500m\n"
        "      memory:\t128Mi\n"
        "    Requests:\n"
        "      cpu:\t100m\n"
        "    Readiness:\thttp-get http://:80/healthz delay=1s timeout=1s period=2s #success=1 #failure=3\n"
        "    Environment Variables from:\n"
        "      settings\tConfigMap with prefix 'APP_'\tOptional: false\n"
        "    Environment:\n"
        "      WAVE:\t2\n"
        "      NODE:\t (v1:spec.nodeName)\n"
        "      PASSWORD:\t<set to the key 'pw' in secret 'db'>\tOptional: false\n"
        "    Mounts:\n"
        '      /cache from cache (rw,path="web")\n'
        "      /var/data from data (ro)\n"
        "  Volumes:\n"
        "   cache:\n"
        "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
        "    Medium:\t\n"
        "    SizeLimit:\t<unset>\n"
        "   data:\n"
        "    Type:\tHostPath (bare host directory volume)\n"
        "    Path:\t/srv/data\n"
        "    HostPathType:\tDirectory\n"
        "  Node-Selectors:\tdisk=ssd\n"
        "\tzone=a\n"
        "  Tolerations:\tdedicated=web:NoSchedule\n"
        "\tnode.kubernetes.io/unreachable:NoExecute op=Exists for 300s\n")


def test_probe_summaries():
    attrs = {"initialDelaySeconds": 0, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
             "failureThreshold": 3}
    tail = "delay=0s timeout=1s period=10s #success=1 #failure=3"
    assert describe_probe({"exec": {"command": ["cat", "/tmp/ok"]}, **attrs}) == f"exec [cat /tmp/ok] {tail}"
    assert describe_probe({"tcpSocket": {"port": 5432}, **attrs}) == f"tcp-socket :5432 {tail}"
    assert describe_probe({"httpGet": {"host": "::1", "port": "http", "path": "/a b", "scheme": "HTTPS"},
                           **attrs}) == f"http-get https://[::1]:http/a%20b {tail}"
    assert describe_probe({"grpc": {"port": 9000, "service": ""}, **attrs}) == f"grpc <pod>:9000  {tail}"
