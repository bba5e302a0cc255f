"""Event names carry the time, so listing Events by name lists them in the order they happened."""

from orchestrator.api.eventnames import EventNamer


def test_names_are_the_object_and_strictly_increasing_hex_nanoseconds():
    namer = EventNamer()
    names = [namer.name("web-1") for _ in range(1000)]
    suffixes = [int(name.removeprefix("web-1."), 16) for name in names]
    assert all(name.startswith("web-1.") for name in names)
    assert suffixes == sorted(set(suffixes))  # strictly increasing, even within one nanosecond
    assert names == sorted(names)  # and so in list (name) order
