"""The panel's state machine (MicroPython code, tested here on CPython too).

These tests also run on MicroPython (tests/micropython/run.py): plain functions and
asserts only; no ``from __future__`` (MicroPython has no such module), no pytest features.
"""

from panel.state import PanelState


def test_status_counts_the_boot_from_the_workers_start() -> None:
    state = PanelState(now=1000)
    assert state.status_text(1000) == "Starting Python… 0.0 s"
    state.receive({"type": "boot.status", "state": "starting", "elapsed_ms": 700}, now=1100)
    assert state.status_text(1600) == "Starting Python… 1.2 s"
    assert state.ticking and not state.ready


def test_hello_means_ready() -> None:
    state = PanelState(now=0)
    state.receive({"type": "hello", "boot": {"python": "3.14.2"}}, now=50)
    assert state.status_text(60) == "Ready"
    assert state.ready and not state.ticking and state.python == "3.14.2"


def test_ping_round_trip_reports_latency() -> None:
    state = PanelState(now=0)
    state.receive({"type": "hello", "boot": {"python": "3.14.2"}}, now=0)
    ping = state.make_ping(now=100)
    assert ping == {"type": "ping", "id": 1}
    state.receive({"type": "pong", "id": 1, "python": "3.14.2"}, now=112)
    assert state.ping_result == "pong from Python 3.14.2 in 12 ms"
    assert state.make_ping(now=200)["id"] == 2


def test_unknown_pong_is_ignored() -> None:
    state = PanelState(now=0)
    state.receive({"type": "pong", "id": 99, "python": "3.14.2"}, now=5)
    assert state.ping_result is None


def test_failed_boot_shows_the_error() -> None:
    state = PanelState(now=0)
    state.receive({"type": "boot.status", "state": "failed", "error": "Python did not start"}, 10)
    assert state.status_text(20) == "Python did not start"
    assert not state.ticking


def test_disconnect_then_reconnect() -> None:
    state = PanelState(now=0)
    state.receive({"type": "hello"}, now=0)
    state.receive({"type": "port.disconnected"}, now=5000)
    assert state.status_text(5300) == "Reconnecting… 0.3 s"
    state.receive({"type": "boot.status", "state": "starting", "elapsed_ms": 100}, now=5400)
    assert state.status_text(5400) == "Starting Python… 0.1 s"
    state.receive({"type": "hello"}, now=6000)
    assert state.status_text(6000) == "Ready"


def test_closed_port_is_final() -> None:
    state = PanelState(now=0)
    state.receive({"type": "port.closed", "reason": "x"}, now=1)
    state.receive({"type": "port.disconnected"}, now=2)
    assert "reopen the panel" in state.status_text(3)
