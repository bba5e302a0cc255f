"""The offline image builder against the real Docker engine.

`ensure_images` builds (or finds up to date) the four stand-in images, then each image is run the
way pods use it and checked from the host: by the container's IP on the default bridge, with the
standard library's HTTP client. Every container carries this run's label and a run-unique name
and is removed at teardown, even when a test fails; nothing else on the engine is touched.

A fresh machine spends about a minute in the first test (debootstrap); later runs take seconds.
Without Docker these tests fail; they never skip.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import docker
import pytest
from docker.models.containers import Container

from agent.images import RECIPE_LABEL, OfflineImage, ensure_images

pytestmark = pytest.mark.docker

RUN_ID = uuid.uuid4().hex[:10]
RUN_LABEL = "dockyard.test-run"
ALL_TAGS = {tag for image in OfflineImage for tag in image.tags}

# Talk to container IPs directly, never through a proxy from the environment.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    try:
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"these tests need a running Docker engine, and found none: {exc}",
                    pytrace=False)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def built(client: docker.DockerClient) -> dict[str, str]:
    """Tag -> id after ensure_images; builds whatever is missing (a minute on a fresh machine)."""
    return ensure_images(client, log=print)


@pytest.fixture
def run(client: docker.DockerClient) -> Iterator[Callable[..., Container]]:
    """Start a detached container named and labelled for this test run; all removed at teardown."""
    def start(image: str, role: str, **kwargs) -> Container:
        name = f"dockyard-test-{RUN_ID}-{role}-{uuid.uuid4().hex[:6]}"
        return client.containers.run(
            image, name=name, labels={RUN_LABEL: RUN_ID}, detach=True, **kwargs
        )

    yield start
    for container in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={RUN_ID}"}):
        container.remove(force=True)


def test_ensure_images_provides_all_four_with_current_recipe(client, built):
    assert set(built) == ALL_TAGS
    for image in OfflineImage:
        for tag in image.tags:
            found = client.images.get(tag)
            assert found.id == built[tag]
            assert found.labels[RECIPE_LABEL] == image.digest(), tag


def test_image_configs_match_the_originals(client, built):
    nginx = client.images.get("nginx:latest").attrs["Config"]
    assert nginx["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert nginx["StopSignal"] == "SIGQUIT"
    assert set(nginx["ExposedPorts"]) == {"80/tcp"}
    # Built on the same rootfs layer as nginx, but must not inherit nginx's settings.
    debug = client.images.get("alicek106/ubuntu:curl").attrs["Config"]
    assert debug["Cmd"] == ["bash"]
    assert not debug.get("ExposedPorts")
    assert debug.get("StopSignal") in (None, "", "SIGTERM")
    pause = client.images.get("dockyard/pause:1.0").attrs["Config"]
    assert pause["Entrypoint"] == ["/pause"]
    echo = client.images.get("alicek106/rr-test:echo-hostname").attrs["Config"]
    assert set(echo["ExposedPorts"]) == {"80/tcp"}


def test_second_ensure_images_is_a_fast_no_op(client, built):
    lines: list[str] = []
    started = time.monotonic()
    again = ensure_images(client, log=lines.append)
    elapsed = time.monotonic() - started
    assert again == built
    assert len(lines) == len(OfflineImage)
    assert all("up to date" in line for line in lines), lines
    assert elapsed < 2, f"a no-op ensure_images took {elapsed:.2f} s"


def test_pause_stays_up_and_stops_at_once_with_exit_0(built, run):
    pause = run("dockyard/pause:1.0", "pause", hostname="sandbox")
    time.sleep(1)
    pause.reload()
    assert pause.status == "running"
    assert _stop_seconds(pause) < 2
    assert pause.attrs["State"]["ExitCode"] == 0


def test_pause_reaps_orphans_of_containers_sharing_its_pid_namespace(built, run):
    # Orphans of a container joining the sandbox's PID namespace are re-parented to its PID 1.
    # Without reaping they would stay zombies (checked by hand with `sleep` as PID 1).
    pause = run("dockyard/pause:1.0", "reaper")
    busybox = "alicek106/rr-test:echo-hostname"
    orphans = run(busybox, "orphans", pid_mode=f"container:{pause.id}",
                  command=["sh", "-c", "sleep 0.2 & sleep 0.2 & exit 0"])
    assert orphans.wait(timeout=10)["StatusCode"] == 0
    time.sleep(0.5)
    ps = run(busybox, "ps", pid_mode=f"container:{pause.id}",
             command=["ps", "-o", "pid,ppid,stat,comm"])
    assert ps.wait(timeout=10)["StatusCode"] == 0
    table = ps.logs().decode()
    zombies = [line for line in table.splitlines()[1:] if line.split()[2].startswith("Z")]
    assert not zombies, table


def test_echo_hostname_answers_with_the_container_hostname(built, run):
    hostname = f"hostname-deployment-{RUN_ID}"
    web = run("alicek106/rr-test:echo-hostname", "echo", hostname=hostname)
    status, page = _get(f"http://{_ip(web)}/")
    assert status == 200
    assert f"<p>Hello, {hostname}</p>" in page
    assert _stop_seconds(web) < 2
    assert web.attrs["State"]["ExitCode"] == 0


def test_nginx_serves_the_welcome_page_and_logs_to_docker_logs(built, run):
    nginx = run("nginx:latest", "nginx")
    status, page = _get(f"http://{_ip(nginx)}/")
    assert status == 200
    assert "Welcome to nginx" in page
    _wait_for(lambda: b'"GET / HTTP/1.1" 200' in nginx.logs(), "the request in docker logs")
    assert _stop_seconds(nginx) < 5


def test_debug_image_has_bash_curl_and_dns_tools(built, run):
    debug = run("alicek106/ubuntu:curl", "debug", hostname="debug",
                command=["bash", "-c", "curl --version && command -v nslookup dig && hostname"])
    result = debug.wait(timeout=30)
    output = debug.logs().decode()
    assert result["StatusCode"] == 0, output
    assert output.startswith("curl ")
    assert "/nslookup" in output and "/dig" in output
    assert output.rstrip().endswith("debug")


def _ip(container: Container) -> str:
    container.reload()
    address = container.attrs["NetworkSettings"]["IPAddress"]
    assert address, f"{container.name} has no address on the default bridge"
    return address


def _get(url: str, timeout: float = 15) -> tuple[int, str]:
    """GET, retrying while the server starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with _http.open(url, timeout=2) as response:
                return response.status, response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def _stop_seconds(container: Container) -> float:
    """`docker stop` with the default 10 s grace; how long it took. Reloads the container."""
    started = time.monotonic()
    container.stop(timeout=10)
    elapsed = time.monotonic() - started
    container.reload()
    assert container.status == "exited"
    return elapsed
