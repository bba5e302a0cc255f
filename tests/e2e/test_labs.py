"""Every lab under ``examples/`` run from its own README, on a fresh simulated machine.

The commands come from the README (:mod:`tests.support.labs`), not from this file: what a reader
types is what is tested, and a promised output that no longer appears fails the suite.
"""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.support.labs import LAB_TIMEOUT, LabRun, parse_readme, unmatched_expectations

pytestmark = [pytest.mark.docker, pytest.mark.kubectl]

EXAMPLES = REPO / "examples"
LABS = sorted(path.parent for path in EXAMPLES.glob("*/README.md"))


def test_every_example_directory_is_a_lab_with_steps():
    assert LABS, "no labs under examples/"
    for directory in sorted(path for path in EXAMPLES.iterdir() if path.is_dir()):
        readme = directory / "README.md"
        assert readme.exists(), f"{directory.name} has no README.md"
        assert parse_readme(readme.read_text()), f"{directory.name}/README.md has no ```bash step"


def test_the_harness_reads_steps_and_promises():
    sheet = "intro\n```bash\necho one\n```\n```text\none\n```\n```yaml\nkind: Pod\n```\n```bash\necho two\n```\n"
    first, second = parse_readme(sheet)
    assert (first.commands, first.expected, second.commands, second.expected) == ("echo one", ("one",), "echo two", ())
    assert unmatched_expectations(("web-…   1/1   Running   0   …",), "web-7d9f-x2   1/1 Running 0 12s\n") == []
    assert unmatched_expectations(("b", "a"), "a\nb\n") == ["a"]  # in order


@pytest.mark.timeout(LAB_TIMEOUT + 120)  # the harness's own limit first, so a hang shows its transcript
@pytest.mark.parametrize("lab", LABS, ids=[lab.name for lab in LABS])
def test_lab(lab, tmp_path):
    run = LabRun(lab, tmp_path / "home")
    try:
        run.run(parse_readme((lab / "README.md").read_text()))
    finally:
        run.cleanup()
