"""FaultServer over real loopback sockets: scripts, steps, records and lifecycle."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import itertools
import json
import math
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests

from errorkit.testing import (
    FaultServer,
    FaultServerConfig,
    RecordedRequest,
    drop,
    dynamic,
    huge_body,
    reset_mid_body,
    respond,
    slow_body,
    stall,
)


def _get(url: str, timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers.items()), error.read()


def _raw_get(server: FaultServer, path: str) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=2)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def _read_all(sock: socket.socket) -> bytes:
    data = bytearray()
    for _ in range(10_000):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return bytes(data)


# -- scripts -------------------------------------------------------------------------


def test_script_plays_steps_in_order_and_repeats_the_last(server: FaultServer) -> None:
    """Each request gets the next step; once the list is used up the last step repeats."""
    server.script("/p", [respond(503), respond(429), respond(200, body="ok")])
    statuses = [_get(server.url("/p"))[0] for _ in range(5)]
    assert statuses == [503, 429, 200, 200, 200]
    assert server.hits("/p") == 5


def test_unscripted_path_gets_a_json_404_naming_the_request(server: FaultServer) -> None:
    """A request no script matches gets a 404 whose JSON body names method and target."""
    status, headers, body = _get(server.url("/nowhere?x=1"))
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["message"] == (
        "FaultServer has no script for GET /nowhere?x=1"
    )


def test_default_step_is_configurable(server: FaultServer) -> None:
    """`server.default` replaces the 404 for unscripted paths."""
    server.default = respond(418, body="teapot")
    assert _get(server.url("/any"))[0] == 418


def test_config_default_is_restored_by_reset() -> None:
    """A `FaultServerConfig.default` step survives `reset()`, unlike a runtime default."""
    with FaultServer(FaultServerConfig(default=respond(204))) as server:
        server.default = respond(500)
        server.reset()
        assert _get(server.url("/x"))[0] == 204


def test_method_specific_script_wins_over_any_method(server: FaultServer) -> None:
    """A script for (POST, path) answers POSTs while the any-method script answers GETs."""
    server.script("/m", [respond(200, body="any")])
    server.script("/m", [respond(201, body="post")], method="post")
    post = requests.post(server.url("/m"), data=b"x", timeout=2)
    get = requests.get(server.url("/m"), timeout=2)
    assert (post.status_code, post.text, get.status_code, get.text) == (201, "post", 200, "any")
    assert server.hits("/m", method="POST") == 1


def test_script_on_full_target_wins_over_path(server: FaultServer) -> None:
    """A script keyed by the target with its query beats the script for the bare path."""
    server.script("/q", [respond(200)])
    server.script("/q?special=1", [respond(202)])
    assert _get(server.url("/q?special=1"))[0] == 202
    assert _get(server.url("/q?other=1"))[0] == 200


def test_rescripting_a_path_restarts_it(server: FaultServer) -> None:
    """Scripting a path again replaces its steps and starts from the first one."""
    server.script("/r", [respond(500), respond(200)])
    _get(server.url("/r"))
    server.script("/r", [respond(503), respond(200)])
    assert _get(server.url("/r"))[0] == 503


def test_script_rejects_an_empty_step_list(server: FaultServer) -> None:
    """A script without steps is a mistake reported at once."""
    with pytest.raises(ValueError, match="at least one step"):
        server.script("/e", [])


def test_script_rejects_objects_that_are_not_steps(server: FaultServer) -> None:
    """A status code or dict where a step belongs is reported when scripting."""
    with pytest.raises(TypeError, match="not a step"):
        server.script("/e", [503])  # type: ignore[list-item]


def test_single_step_needs_no_list(server: FaultServer) -> None:
    """`script(path, step)` with one bare step works like a one-element list."""
    server.script("/one", respond(201))
    assert _get(server.url("/one"))[0] == 201


def test_absolute_form_target_is_matched_verbatim_as_a_proxy(server: FaultServer) -> None:
    """Through httpx with the server as forward proxy, the absolute-form target is scripted."""
    server.script("http://upstream.test/x", [respond(503), respond(200, body="via proxy")])
    with httpx.Client(proxy=server.base_url, timeout=2) as client:
        first = client.get("http://upstream.test/x")
        second = client.get("http://upstream.test/x")
    assert (first.status_code, second.status_code, second.text) == (503, 200, "via proxy")
    assert server.hits("http://upstream.test/x") == 2
    assert server.requests()[0].target == "http://upstream.test/x"


def test_dynamic_step_chooses_from_the_request(server: FaultServer) -> None:
    """A `dynamic` step answers from the recorded request (here: echoing its body)."""
    server.script("/echo", [dynamic(lambda r: respond(200, body=r.body[::-1]))])
    response = requests.post(server.url("/echo"), data=b"abc", timeout=2)
    assert response.content == b"cba"


# -- records -------------------------------------------------------------------------


def test_records_hold_method_target_headers_body_and_connection(server: FaultServer) -> None:
    """Every field of a request is recorded: method, target, path, query, headers, body."""
    server.script("/rec", [respond(201)])
    before = time.monotonic()
    requests.put(server.url("/rec?a=1&b=2"), data=b"payload", headers={"X-Trace": "t-1"}, timeout=2)
    (record,) = server.requests("/rec")
    assert (record.method, record.target, record.path, record.query) == (
        "PUT",
        "/rec?a=1&b=2",
        "/rec",
        "a=1&b=2",
    )
    assert record.body == b"payload"
    assert record.header("x-trace") == record.header("X-TRACE") == "t-1"
    assert record.headers["content-length"] == "7"
    assert record.header("missing") is None
    assert before <= record.t <= time.monotonic()
    assert record.conn_id >= 1
    assert record.error is None


def test_requests_filter_by_path_and_method(server: FaultServer) -> None:
    """`requests(path, method=)` filters; `requests()` lists everything in arrival order."""
    server.script("/a", [respond(200)])
    server.script("/b", [respond(200)])
    requests.get(server.url("/a"), timeout=2)
    requests.post(server.url("/b"), timeout=2)
    requests.get(server.url("/a?x"), timeout=2)
    assert [r.target for r in server.requests()] == ["/a", "/b", "/a?x"]
    assert [r.index for r in server.requests()] == [0, 1, 2]
    assert server.hits("/a") == 2
    assert server.hits("/a?x") == 1
    assert server.hits(method="POST") == 1


def test_keep_alive_requests_share_one_connection(server: FaultServer) -> None:
    """A pooled client's requests are recorded on one connection; close=True forces a new one."""
    server.script("/k", [respond(200), respond(200, close=True), respond(200)])
    with requests.Session() as session:
        for _ in range(3):
            session.get(server.url("/k"), timeout=2)
    conn_ids = [r.conn_id for r in server.requests("/k")]
    assert conn_ids[0] == conn_ids[1] != conn_ids[2]
    assert server.connections_accepted == 2


def test_arrival_times_measure_the_gap_between_attempts(server: FaultServer) -> None:
    """`t` of consecutive requests differs by the client's pause between them."""
    server.script("/t", [respond(200)])
    with requests.Session() as session:
        session.get(server.url("/t"), timeout=2)
        time.sleep(0.2)
        session.get(server.url("/t"), timeout=2)
    first, second = server.requests("/t")
    assert 0.18 <= second.t - first.t <= 1.5


def test_reset_clears_scripts_records_counts_and_connections(server: FaultServer) -> None:
    """After `reset()` there are no scripts, records or counted connections, and idle
    keep-alive connections are closed."""
    server.script("/x", [respond(201)])
    sock = _raw_get(server, "/x")
    assert sock.recv(4096).startswith(b"HTTP/1.1 201")
    server.reset()
    assert (server.hits(), server.connections_accepted) == (0, 0)
    assert sock.recv(4096) == b""  # the server closed the idle connection
    sock.close()
    assert _get(server.url("/x"))[0] == 404


def test_records_are_safe_under_concurrent_clients(server: FaultServer) -> None:
    """64 clients at once: every request is recorded once with its own body."""
    server.script("/c", [respond(200)])

    def post(i: int) -> int:
        with socket.create_connection((server.host, server.port), timeout=3) as sock:
            body = str(i).encode()
            head = f"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            sock.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
            return int(_read_all(sock).split(b" ")[1])

    with ThreadPoolExecutor(64) as pool:
        statuses = list(pool.map(post, range(64)))
    assert statuses == [200] * 64
    assert sorted(int(r.body) for r in server.requests("/c")) == list(range(64))
    assert server.connections_accepted == 64


def test_64_connections_are_served_while_all_held_open(server: FaultServer) -> None:
    """64 connections stalled at once each have a live handler, and a 65th still gets served."""
    server.script("/hold", [stall(5)])
    socks = [_raw_get(server, "/hold") for _ in range(64)]
    try:
        deadline = time.monotonic() + 3
        while server.hits("/hold") < 64 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.hits("/hold") == 64
        server.script("/ok", [respond(200)])
        assert _get(server.url("/ok"))[0] == 200
    finally:
        for sock in socks:
            sock.close()


def test_connections_over_the_limit_get_503() -> None:
    """Beyond `max_connections` live connections, a new one is answered 503 and closed."""
    with FaultServer(FaultServerConfig(max_connections=1)) as server:
        server.script("/hold", [stall(5)])
        held = _raw_get(server, "/hold")
        deadline = time.monotonic() + 2
        while server.hits("/hold") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _get(server.url("/other"))[0] == 503
        held.close()


# -- steps ---------------------------------------------------------------------------


def test_respond_sends_json_str_and_bytes_bodies(server: FaultServer) -> None:
    """dict bodies go out as JSON, str as UTF-8 text, bytes untouched, each with its type."""
    server.script("/j", [respond(400, body={"error": "Label is required"})])
    server.script("/s", [respond(200, body="héllo")])
    server.script("/b", [respond(200, {"Content-Type": "application/x-raw"}, b"\x00\x01")])
    j, s, b = (requests.get(server.url(p), timeout=2) for p in ("/j", "/s", "/b"))
    assert (j.status_code, j.json(), j.headers["Content-Type"]) == (
        400,
        {"error": "Label is required"},
        "application/json",
    )
    assert (s.text, s.headers["Content-Type"]) == ("héllo", "text/plain; charset=utf-8")
    assert (b.content, b.headers["Content-Type"]) == (b"\x00\x01", "application/x-raw")


def test_respond_keeps_repeated_headers_and_reason_phrases(
    raw: object, server: FaultServer
) -> None:
    """Header pairs are sent in order with repeats; unknown statuses get a reason phrase."""
    server.script("/h", [respond(529, [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])])
    sock = _raw_get(server, "/h")
    head = sock.recv(4096).decode()
    sock.close()
    assert head.startswith("HTTP/1.1 529 Unknown\r\n")
    assert "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n" in head


def test_respond_delay_holds_back_the_headers(server: FaultServer) -> None:
    """`delay` postpones the response by about that long."""
    server.script("/d", [respond(200, delay=0.3)])
    start = time.monotonic()
    assert _get(server.url("/d"))[0] == 200
    assert 0.28 <= time.monotonic() - start <= 1.5


def test_respond_delay_longer_than_read_timeout_times_out(server: FaultServer) -> None:
    """A client whose read timeout is shorter than the delay gets a read timeout."""
    server.script("/d", [respond(200, delay=1.0)])
    with pytest.raises(requests.ReadTimeout):
        requests.get(server.url("/d"), timeout=(1, 0.2))


def test_respond_chunked_sends_the_body_in_n_chunks(server: FaultServer) -> None:
    """`chunked=3` sends Transfer-Encoding: chunked with three data chunks."""
    server.script("/c", [respond(200, body=b"abcdefgh", chunked=3, close=True)])
    sock = _raw_get(server, "/c")
    data = _read_all(sock)
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert b"Content-Length" not in head
    assert body == b"3\r\nabc\r\n3\r\ndef\r\n2\r\ngh\r\n0\r\n\r\n"
    server.script("/c2", [respond(200, body=b"abcdefgh", chunked=True)])
    assert requests.get(server.url("/c2"), timeout=2).content == b"abcdefgh"


def test_respond_gzip_encodes_the_body(server: FaultServer) -> None:
    """`gzip=True` sends gzip bytes and Content-Encoding: gzip; clients decode them."""
    body = {"error": {"message": "boom", "type": "api_error"}}
    server.script("/g", [respond(500, body=body, gzip=True)])
    response = requests.get(server.url("/g"), timeout=2)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.json() == body
    status, headers, raw_body = _get(server.url("/g"))
    assert status == 500
    assert int(headers["Content-Length"]) == len(raw_body)
    assert json.loads(gzip.decompress(raw_body)) == body


def test_close_sends_connection_close_and_closes(server: FaultServer) -> None:
    """`close=True` adds Connection: close and the server closes after the body."""
    server.script("/c", [respond(200, body=b"bye", close=True)])
    sock = _raw_get(server, "/c")
    data = _read_all(sock)  # returns only because the server closed
    sock.close()
    assert b"Connection: close" in data
    assert data.endswith(b"bye")


def test_head_and_204_have_no_body(server: FaultServer) -> None:
    """A HEAD answer carries Content-Length but no body; a 204 carries neither."""
    server.script("/h", [respond(200, body=b"12345")])
    server.script("/n", [respond(204)])
    conn = http.client.HTTPConnection(server.host, server.port, timeout=2)
    conn.request("HEAD", "/h")
    head = conn.getresponse()
    assert (head.getheader("Content-Length"), head.read()) == ("5", b"")
    conn.request("GET", "/n")
    empty = conn.getresponse()
    assert (empty.status, empty.getheader("Content-Length"), empty.read()) == (204, None, b"")
    conn.close()
    assert [r.conn_id for r in server.requests()] == [1, 1]


def test_drop_reads_the_request_then_closes_without_answer(server: FaultServer) -> None:
    """`drop()` records the full request, then the client sees a closed connection."""
    server.script("/p", [drop(), respond(200)])
    with pytest.raises(requests.ConnectionError):
        requests.post(server.url("/p"), data=b"body", timeout=2)
    assert server.requests("/p")[0].body == b"body"
    assert requests.get(server.url("/p"), timeout=2).status_code == 200


def test_drop_with_reset_aborts_the_connection(server: FaultServer) -> None:
    """`drop(reset=True)` aborts with a RST, which a raw client sees as a reset."""
    server.script("/r", [drop(reset=True)])
    sock = _raw_get(server, "/r")
    with pytest.raises(ConnectionResetError):
        _read_all(sock)
    sock.close()


def test_stall_never_answers_until_the_client_gives_up(server: FaultServer) -> None:
    """A stalled request makes the client's read timeout fire, and it was recorded."""
    server.script("/s", [stall()])
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url("/s"), timeout=0.3)
    assert 0.25 <= time.monotonic() - start <= 1.5
    assert server.hits("/s") == 1


def test_stall_with_seconds_closes_silently_afterwards(server: FaultServer) -> None:
    """`stall(0.2)` holds the connection about 0.2 s, then closes it without a response."""
    server.script("/s", [stall(0.2)])
    sock = _raw_get(server, "/s")
    start = time.monotonic()
    assert _read_all(sock) == b""
    sock.close()
    assert 0.15 <= time.monotonic() - start <= 1.5


def test_stall_thread_ends_when_the_client_closes(server: FaultServer) -> None:
    """A stall notices the client closing and frees its thread at once."""
    server.script("/s", [stall()])
    sock = _raw_get(server, "/s")
    deadline = time.monotonic() + 2
    while server.hits("/s") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    handlers = [t for t in threading.enumerate() if "faultserver-conn" in t.name]
    sock.close()
    for thread in handlers:
        thread.join(2)
    assert not any(t.is_alive() for t in handlers)


def test_slow_body_trickles_at_the_interval(server: FaultServer) -> None:
    """`slow_body` sends headers at once, then the body over about chunks x interval."""
    server.script("/slow", [slow_body(200, b"abcdef", chunk=2, interval=0.1)])
    start = time.monotonic()
    response = requests.get(server.url("/slow"), timeout=2, stream=True)
    headers_at = time.monotonic() - start
    assert response.raw.read(6) == b"abcdef"
    assert headers_at < 0.25
    assert 0.28 <= time.monotonic() - start <= 1.5
    response.close()


def test_slow_body_chunked_drips_one_chunk_per_interval(server: FaultServer) -> None:
    """`chunked=True`: no Content-Length; each drip is one chunk, then the last chunk."""
    server.script("/slow", [slow_body(200, b"abcdef", chunk=3, interval=0.1, chunked=True)])
    start = time.monotonic()
    response = requests.get(server.url("/slow"), timeout=2, stream=True)
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.headers
    assert list(response.iter_content(None)) == [b"abc", b"def"]
    assert 0.18 <= time.monotonic() - start <= 1.5
    response.close()


def test_slow_body_slower_than_read_timeout_fails_mid_body(server: FaultServer) -> None:
    """A trickle slower than the read timeout fails the body read, not the headers."""
    server.script("/slow", [slow_body(200, b"abc", interval=0.5)])
    with httpx.Client(timeout=0.2) as client, client.stream("GET", server.url("/slow")) as r:
        assert r.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            r.read()


def test_slow_body_drips_each_chunk_after_its_interval(server: FaultServer) -> None:
    """A body dripped at a rate: every byte arrives about `interval` after the last."""
    server.script("/drip", [slow_body(200, b"abcd", interval=0.1)])
    sock = _raw_get(server, "/drip")
    head = b""
    for _ in range(100):  # the head arrives at once, in a few reads at most
        head += sock.recv(65536)
        if b"\r\n\r\n" in head:
            break
    assert head.endswith(b"\r\n\r\n")
    arrivals = []
    for _ in range(4):
        assert len(sock.recv(65536)) == 1
        arrivals.append(time.monotonic())
    sock.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(0.07 <= gap <= 0.5 for gap in gaps)


def test_slow_body_with_an_infinite_interval_sends_headers_then_stalls(
    server: FaultServer,
) -> None:
    """`interval=math.inf`: the head with its Content-Length arrives, the body never does."""
    server.script("/stall", [slow_body(503, b"{}", interval=math.inf)])
    start = time.monotonic()
    with httpx.Client(timeout=0.3) as client, client.stream("GET", server.url("/stall")) as r:
        assert time.monotonic() - start < 0.25
        assert r.status_code == 503
        assert r.headers["Content-Length"] == "2"
        with pytest.raises(httpx.ReadTimeout):
            r.read()
    assert 0.25 <= time.monotonic() - start <= 1.5


def test_slow_body_stall_ends_when_the_server_stops() -> None:
    """Stopping ends an infinite pause at once: no thread and no socket outlive the block."""
    before = _baseline()
    with FaultServer() as server:
        server.script("/stall", [slow_body(200, b"x" * 10, interval=math.inf)])
        sock = _raw_get(server, "/stall")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        start = time.monotonic()
    assert time.monotonic() - start < 1.0
    assert _server_threads(before) == []
    assert _read_all(sock) == b""  # closed: the promised body never came
    sock.close()


@pytest.mark.parametrize("reset", [False, True])
def test_slow_body_stall_ends_when_the_client_closes(server: FaultServer, reset: bool) -> None:
    """A client that gives up during a pause (a FIN or a RST) frees the server's thread."""
    server.script("/stall", [slow_body(200, b"x" * 10, interval=math.inf)])
    before = _baseline()
    sock = _raw_get(server, "/stall")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
    handlers = [t for t in _server_threads() if "conn" in t.name and t not in before]
    assert len(handlers) == 1
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    handlers[0].join(1.0)
    assert not handlers[0].is_alive()


def test_slow_body_stall_with_pipelined_bytes_still_ends_when_the_server_stops() -> None:
    """Bytes of a next request arriving during an infinite pause do not keep a stop waiting."""
    before = _baseline()
    with FaultServer() as server:
        server.script("/stall", [slow_body(200, b"x", interval=math.inf)])
        sock = _raw_get(server, "/stall")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.1)  # let the pause see the bytes
        start = time.monotonic()
    assert time.monotonic() - start < 1.0
    assert _server_threads(before) == []
    sock.close()


def test_slow_body_with_no_interval_sends_the_body_at_once(server: FaultServer) -> None:
    """`interval=0` is a plain response sent in `chunk`-sized writes."""
    server.script("/now", [slow_body(200, b"abcdef", chunk=4, interval=0)])
    assert _get(server.url("/now"))[2] == b"abcdef"


def test_slow_body_pause_is_cut_at_the_stall_limit() -> None:
    """A pause longer than `stall_limit` closes the connection there, mid-body."""
    with FaultServer(FaultServerConfig(stall_limit=0.3)) as server:
        server.script("/stall", [slow_body(200, b"abc", chunk=2, interval=math.inf)])
        server.script("/drip", [slow_body(200, b"abc", chunk=2, interval=0.2)])
        start = time.monotonic()
        with _raw_get(server, "/stall") as sock:
            stalled = _read_all(sock)
        elapsed = time.monotonic() - start
        with _raw_get(server, "/drip") as sock:
            sock.sendall(b"GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            dripped = _read_all(sock).partition(b"HTTP/1.1 404")[0]
    assert stalled.endswith(b"\r\n\r\n")  # the head, no body byte
    assert b"Content-Length: 3" in stalled
    assert 0.25 <= elapsed <= 1.5
    assert dripped.endswith(b"\r\n\r\nabc")  # pauses under the limit are kept


def test_slow_body_keeps_the_connection_when_the_client_pipelines(server: FaultServer) -> None:
    """Bytes of a next request during a pause do not end it; the next request is served."""
    server.script("/drip", [slow_body(200, b"ab", interval=0.1)])
    sock = _raw_get(server, "/drip")
    sock.sendall(b"GET /drip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = _read_all(sock)
    sock.close()
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.endswith(b"\r\n\r\nab")


def test_reset_mid_body_delivers_part_then_resets(server: FaultServer) -> None:
    """The client gets the full Content-Length, exactly sent_bytes of body, then a reset."""
    server.script("/r", [reset_mid_body(200, body=100 * b"x", sent_bytes=10)])
    sock = _raw_get(server, "/r")
    data = bytearray()
    reset = False
    for _ in range(100):
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            reset = True
            break
        if not chunk:
            break
        data += chunk
    sock.close()
    assert reset
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert b"Content-Length: 100" in head
    assert body == 10 * b"x"


def test_reset_mid_body_fails_a_requests_read(server: FaultServer) -> None:
    """requests reports a reset mid-body as ChunkedEncodingError (see the pitfall list)."""
    server.script("/r", [reset_mid_body(200, body=100 * b"x", sent_bytes=10), respond(200)])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(server.url("/r"), timeout=2)


def test_reset_mid_body_without_reset_truncates(server: FaultServer) -> None:
    """`reset=False` closes cleanly after a short body: http.client sees IncompleteRead."""
    server.script("/t", [reset_mid_body(200, body=b"0123456789", sent_bytes=4, reset=False)])
    conn = http.client.HTTPConnection(server.host, server.port, timeout=2)
    conn.request("GET", "/t")
    with pytest.raises(http.client.IncompleteRead) as info:
        conn.getresponse().read()
    conn.close()
    assert info.value.partial == b"0123"


def test_huge_body_streams_n_bytes(server: FaultServer) -> None:
    """`huge_body(20 MB)` delivers exactly 20 MB with a matching Content-Length."""
    n = 20_000_000
    server.script("/big", [huge_body(n)])
    with requests.get(server.url("/big"), timeout=5, stream=True) as response:
        assert response.headers["Content-Length"] == str(n)
        total = sum(len(c) for c in response.iter_content(1 << 20))
    assert total == n


def test_huge_body_chunked_and_on_error_status(server: FaultServer) -> None:
    """A chunked huge 503 body decodes to the announced size."""
    server.script("/big", [huge_body(300_000, 503, chunked=True)])
    response = httpx.get(server.url("/big"), timeout=5)
    assert response.status_code == 503
    assert "content-length" not in response.headers
    assert len(response.content) == 300_000
    assert response.content[:3] == b"\x00\x01\x02"


def test_keep_alive_survives_every_completing_step(server: FaultServer) -> None:
    """respond, chunked, slow and huge bodies all leave the connection reusable."""
    server.script(
        "/ka",
        [
            respond(200, body=b"a"),
            respond(200, body=b"bb", chunked=2),
            slow_body(200, b"ccc", interval=0.01),
            huge_body(100_000),
            respond(200, body=b"e"),
        ],
    )
    with requests.Session() as session:
        sizes = [len(session.get(server.url("/ka"), timeout=2).content) for _ in range(5)]
    assert sizes == [1, 2, 3, 100_000, 1]
    assert server.connections_accepted == 1


# -- lifecycle -----------------------------------------------------------------------


def _server_threads(before: frozenset[threading.Thread] = frozenset()) -> list[threading.Thread]:
    """The server threads alive now, leaving out those in `before` (the session
    server that other tests share runs for the whole session)."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("errorkit-faultserver") and t not in before
    ]


def _baseline() -> frozenset[threading.Thread]:
    return frozenset(_server_threads())


def test_every_thread_and_the_port_are_gone_after_exit() -> None:
    """After the block, no server thread is alive and the port refuses connections."""
    before = _baseline()
    with FaultServer() as server:
        server.script("/s", [stall()])
        server.script("/ok", [respond(200)])
        idle = _raw_get(server, "/ok")
        stalled = [_raw_get(server, "/s") for _ in range(5)]
        while server.hits() < 6:
            time.sleep(0.01)
        port = server.port
        assert len(_server_threads(before)) == 7  # the acceptor and six connections
    assert _server_threads(before) == []
    assert not server.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    for sock in [idle, *stalled]:
        sock.close()


def test_stop_is_prompt_with_stalled_delayed_and_unread_huge_responses() -> None:
    """Stopping wakes stalls, long delays, slow bodies and blocked sends within a second."""
    before = _baseline()
    with FaultServer() as server:
        server.script("/stall", [stall()])
        server.script("/delay", [respond(200, delay=30)])
        server.script("/slow", [slow_body(200, b"x" * 100, interval=10)])
        server.script("/huge", [huge_body(500_000_000)])  # the client never reads it
        socks = [_raw_get(server, p) for p in ("/stall", "/delay", "/slow", "/huge")]
        while server.hits() < 4:
            time.sleep(0.01)
        time.sleep(0.1)  # let the huge body fill the socket buffers
        start = time.monotonic()
    assert time.monotonic() - start < 1.0
    assert _server_threads(before) == []
    for sock in socks:
        sock.close()


def test_server_starts_once_and_stop_is_idempotent() -> None:
    """A stopped server cannot restart; stopping twice is harmless; unstarted has no URL."""
    server = FaultServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url
    server.start()
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError, match="starts once"):
        server.start()


def test_base_url_and_url() -> None:
    """`base_url` is http://127.0.0.1:<port>; `url()` adds a leading slash if missing."""
    with FaultServer() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.url("x") == server.url("/x") == server.base_url + "/x"


def test_ipv6_loopback_is_supported() -> None:
    """With host ::1 the base URL brackets the address and requests are served."""
    try:
        server = FaultServer(FaultServerConfig(host="::1")).start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with server:
        server.script("/six", [respond(200, body="v6")])
        assert server.base_url.startswith("http://[::1]:")
        assert _get(server.url("/six"))[2] == b"v6"


def test_non_loopback_hosts_are_refused() -> None:
    """The server never binds an address other hosts could reach."""
    for host in ("0.0.0.0", "example.com", "10.1.2.3"):
        with pytest.raises(ValueError, match="loopback"):
            FaultServerConfig(host=host)


async def test_async_with_serves_an_async_client() -> None:
    """`async with FaultServer()` serves an httpx.AsyncClient, concurrently."""
    before = _baseline()
    async with FaultServer() as server:
        server.script("/a", [respond(200, body="async", delay=0.2)])
        async with httpx.AsyncClient(timeout=2) as client:
            start = time.monotonic()
            responses = await asyncio.gather(*(client.get(server.url("/a")) for _ in range(5)))
            elapsed = time.monotonic() - start
    assert [r.text for r in responses] == ["async"] * 5
    assert elapsed < 0.9  # the five delays ran in parallel
    assert _server_threads(before) == []


async def test_sync_server_works_from_an_async_test(server: FaultServer) -> None:
    """The plain context-manager server serves an asyncio client (it runs in threads)."""
    server.script("/a", [respond(503), respond(200)])
    async with httpx.AsyncClient(timeout=2) as client:
        codes = [(await client.get(server.url("/a"))).status_code for _ in range(2)]
    assert codes == [503, 200]


# -- fast path -----------------------------------------------------------------------


def test_fast_path_answers_without_recording(server: FaultServer) -> None:
    """The fast path answers 200 "ok" on keep-alive, counted in fast_hits, not recorded."""
    server.fast_path = "/fast"
    with requests.Session() as session:
        bodies = [session.get(server.url("/fast"), timeout=2).text for _ in range(50)]
    assert bodies == ["ok"] * 50
    assert server.fast_hits == 50
    assert server.hits() == 0
    assert server.connections_accepted == 1


def test_fast_path_falls_back_for_other_requests_on_the_same_connection(
    server: FaultServer,
) -> None:
    """A scripted request between fast ones on one connection is parsed and recorded."""
    server.fast_path = "/fast"
    server.script("/slow", [respond(201)])
    with requests.Session() as session:
        codes = [session.get(server.url(p), timeout=2).status_code for p in
                 ("/fast", "/fast", "/slow", "/fast")]  # fmt: skip
        posted = session.post(server.url("/fast"), data=b"x", timeout=2)
    assert codes == [200, 200, 201, 200]
    assert posted.status_code == 404  # a POST is never the fast path
    assert (server.fast_hits, server.hits()) == (3, 2)


def test_fast_path_honours_connection_close(server: FaultServer) -> None:
    """A fast request asking Connection: close is answered and the connection closed."""
    server.fast_path = "/fast"
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = _read_all(sock)
    assert data.endswith(b"\r\n\r\nok")
    assert b"Connection: close" in data


def test_fast_path_off_after_reset(server: FaultServer) -> None:
    """`reset()` turns the fast path off again."""
    server.fast_path = "/fast"
    server.reset()
    after: FaultServer = server  # a fresh name: the assignment above narrowed `server`
    assert after.fast_path is None
    assert _get(server.url("/fast"))[0] == 404


def test_recorded_request_json_helper() -> None:
    """`RecordedRequest.json()` decodes the body; `matches` accepts target or path."""
    record = RecordedRequest(method="POST", target="/p?x=1", body=b'{"a": 1}')
    assert record.json() == {"a": 1}
    assert record.matches("/p")
    assert record.matches("/p?x=1")
    assert not record.matches("/p?x=2")
