"""The agent's per-pod files (:mod:`agent.podfiles`) on a temporary state directory."""

from __future__ import annotations

import stat

import pytest

from agent.podfiles import PodFiles

UID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def test_the_resolv_conf_is_written_readable_by_any_user_and_rewritten_only_when_it_changes(tmp_path) -> None:
    files = PodFiles(tmp_path)
    path = files.write_resolv_conf(UID, "nameserver 10.96.0.10\n")
    assert path == tmp_path / "pods" / UID / "resolv.conf"
    assert path.read_text() == "nameserver 10.96.0.10\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    inode = path.stat().st_ino
    assert files.write_resolv_conf(UID, "nameserver 10.96.0.10\n").stat().st_ino == inode  # untouched
    files.write_resolv_conf(UID, "nameserver 10.96.0.53\n")
    assert path.read_text() == "nameserver 10.96.0.53\n"
    assert [p.name for p in path.parent.iterdir()] == ["resolv.conf"]  # no partial file left


def test_removing_a_pod_removes_its_directory_and_listing_finds_the_others(tmp_path) -> None:
    files = PodFiles(tmp_path)
    assert files.pod_uids() == set()
    files.write_resolv_conf(UID, "x\n")
    files.write_resolv_conf("other-uid", "y\n")
    assert files.pod_uids() == {UID, "other-uid"}
    files.remove(UID)
    files.remove(UID)  # twice is fine
    assert files.pod_uids() == {"other-uid"}


@pytest.mark.parametrize("uid", ["../etc", "", "a/b", ".hidden"])
def test_a_uid_that_is_not_a_plain_name_is_refused(tmp_path, uid: str) -> None:
    with pytest.raises(ValueError):
        PodFiles(tmp_path).write_resolv_conf(uid, "x\n")
