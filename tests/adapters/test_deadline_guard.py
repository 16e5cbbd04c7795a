"""`cut_at`: the watchdog that bounds a sync stack's blocking reads by the deadline."""

from __future__ import annotations

import socket
import threading
import time

from errorkit._stacks.deadline import _WATCHDOG, cut_at


def test_a_blocked_recv_ends_when_the_time_is_up() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        started = time.monotonic()
        with cut_at(ours, 0.2) as cut:
            data = ours.recv(10)  # the peer never sends
        waited = time.monotonic() - started
    assert data == b""
    assert cut.fired
    assert 0.2 <= waited < 0.6


def test_reads_that_finish_in_time_are_left_alone() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"hello")
        with cut_at(ours, 0.2) as cut:
            data = ours.recv(10)
        time.sleep(0.3)  # past the deadline: nothing fires once disarmed
        theirs.sendall(b"again")
        assert ours.recv(10) == b"again"
    assert data == b"hello"
    assert not cut.fired


def test_no_socket_or_no_deadline_arms_nothing() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        before = len(_WATCHDOG._heap)
        with cut_at(None, 0.0) as a, cut_at(ours, None) as b:
            assert len(_WATCHDOG._heap) == before
    assert not a.fired
    assert not b.fired


def test_an_earlier_deadline_armed_later_still_fires_first() -> None:
    slow, slow_peer = socket.socketpair()
    fast, fast_peer = socket.socketpair()
    with slow, slow_peer, fast, fast_peer:
        seen: list[float] = []

        def wait_slow() -> None:
            with cut_at(slow, 5.0):
                slow.recv(1)

        thread = threading.Thread(target=wait_slow)
        thread.start()
        time.sleep(0.05)  # the watchdog now waits for the 5 s entry
        started = time.monotonic()
        with cut_at(fast, 0.1) as cut:
            fast.recv(1)
        seen.append(time.monotonic() - started)
        slow_peer.sendall(b"x")  # release the other thread
        thread.join(timeout=5)
    assert cut.fired
    assert seen[0] < 0.5


def test_many_disarmed_entries_do_not_pile_up() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        for _ in range(5000):
            with cut_at(ours, 60.0):
                pass
    assert len(_WATCHDOG._heap) < 200
