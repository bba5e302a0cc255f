"""Where a cluster keeps everything it owns on disk, and how files there are written.

One directory (``$DOCKYARD_STATE_DIR``, else ``~/.dockyard``) holds the whole control plane::

    state.db        the store (see orchestrator.store.sqlite)
    pki/            ca.crt, ca.key, server.crt, server.key, apiserver-kubelet-client.crt/.key
    tokens.json     SHA-256 hashes of bearer tokens and who they stand for
    kubeconfig      admin credentials that real kubectl uses as is
    cluster.json    cluster name, API address, creation time, init flags
    logs/           one log file per process: server.log, agent-<node>.log
    run/            pid files of the processes we started
    knobs.json      the lab knobs ``dockyard up`` last started the cluster with
    agents/<node>/  each local agent's own state (its node token) under ``dockyard up``

:class:`StateDir` is only a naming scheme: every path is derived from ``root`` so no other module
spells a file name, and a test can point a whole cluster at ``tmp_path``. Directories are 0700 and
secrets 0600 because the directory holds the CA key and admin credentials: anyone who can read it
owns the cluster.

:func:`atomic_write` is the one way files here are written: a temporary file created with the
final mode (never briefly world-readable), fsynced, then renamed over the target, so a reader
(the API server reloading ``tokens.json``, kubectl reading its kubeconfig) sees the old file or the
new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: environment variable that overrides the default location
STATE_DIR_ENV = "DOCKYARD_STATE_DIR"

#: directories hold secrets, so only the owner may list or enter them
DIR_MODE = 0o700
#: keys, tokens and kubeconfigs
SECRET_MODE = 0o600
#: certificates are public, but there is no reason to hand out more than read access
PUBLIC_MODE = 0o644


def default_state_dir() -> Path:
    """``$DOCKYARD_STATE_DIR`` when set (``~`` expanded), else ``~/.dockyard``."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".dockyard"


@dataclass(frozen=True)
class StateDir:
    root: Path

    @classmethod
    def default(cls) -> StateDir:
        return cls(default_state_dir())

    # -- files at the top level -------------------------------------------------------------

    @property
    def db(self) -> Path:
        return self.root / "state.db"

    @property
    def tokens(self) -> Path:
        return self.root / "tokens.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def cluster_json(self) -> Path:
        return self.root / "cluster.json"

    # -- PKI --------------------------------------------------------------------------------

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def ca_cert(self) -> Path:
        return self.pki_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.pki_dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.pki_dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.pki_dir / "server.key"

    @property
    def kubelet_client_cert(self) -> Path:
        """The API server's client certificate towards node agents (logs, exec), as kubeadm's
        ``apiserver-kubelet-client.crt``."""
        return self.pki_dir / "apiserver-kubelet-client.crt"

    @property
    def kubelet_client_key(self) -> Path:
        return self.pki_dir / "apiserver-kubelet-client.key"

    # -- logs and pid files -----------------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def knobs(self) -> Path:
        return self.root / "knobs.json"

    def log_file(self, process: str) -> Path:
        """``logs/<process>.log``; ``process`` is e.g. ``server`` or ``agent-node1``."""
        return self.logs_dir / f"{_checked_process_name(process)}.log"

    @property
    def server_log(self) -> Path:
        return self.log_file("server")

    def agent_log(self, node_name: str) -> Path:
        return self.log_file(f"agent-{node_name}")

    def pid_file(self, process: str) -> Path:
        """``run/<process>.pid``."""
        return self.run_dir / f"{_checked_process_name(process)}.pid"

    # -- local agents -------------------------------------------------------------------------

    @property
    def agents_dir(self) -> Path:
        return self.root / "agents"

    def agent_dir(self, node_name: str) -> Path:
        """``agents/<node>``: the ``--state-dir`` of the agent ``dockyard up`` runs for a node
        (and the default one of ``dockyard agent``, under the default root)."""
        return self.agents_dir / _checked_process_name(node_name)

    # -- creation ---------------------------------------------------------------------------

    def ensure(self) -> StateDir:
        """Create the root and its subdirectories with mode 0700; harmless when they exist.

        The subdirectories are ours alone, so an existing one is tightened back to 0700. The
        root is tightened only when we create it: ``DOCKYARD_STATE_DIR`` may point at a directory
        the user made and we should not silently change its permissions.
        """
        if not self.root.exists():
            self.root.mkdir(parents=True, mode=DIR_MODE)
            os.chmod(self.root, DIR_MODE)  # mkdir's mode is filtered through the umask
        for sub in (self.pki_dir, self.logs_dir, self.run_dir):
            sub.mkdir(mode=DIR_MODE, exist_ok=True)
            os.chmod(sub, DIR_MODE)
        return self


def _checked_process_name(process: str) -> str:
    # Node names end up in file names; a "/" or ".." would write outside logs/ or run/.
    if not process or "/" in process or process.startswith("."):
        raise ValueError(f"not a usable process name: {process!r}")
    return process


def atomic_write(path: Path, data: bytes | str, mode: int = SECRET_MODE) -> None:
    """Replace ``path`` with ``data`` in one step, the new file having exactly ``mode``."""
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    # mkstemp creates the file 0600 from the start, so a secret is never readable by others,
    # and in the same directory, so the rename cannot cross file systems.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable: without it a crash can bring back the old file.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
