"""Tests for herd_server.py: real server processes on free ports, a stdlib HTTP stub for Places.

Run:  /work/main/.venv/bin/python -m pytest -q python/test_herd_server.py
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SERVER = HERE / "herd_server.py"

# --------------------------------------------------------------------------- Places stub

PLACES_BODY = """{
   "html_attributions" : [],
   "next_page_token" : "tok",
   "results" : [
      {
         "geometry" : {
            "location" : {
               "lat" : 34.0736204,
               "lng" : -118.4003563
            },
            "viewport" : {}
         },
         "name" : "Beverly Hills",
         "types" : [ "locality", "political" ],
         "rating" : 4.50,
         "photos" : []
      },
      {
         "name" : "Second \\u00e9",
         "types" : [ "cafe" ]
      },
      {
         "name" : "Third",
         "open" : true,
         "x" : null
      }
   ],
   "status" : "OK"
}
"""

# bound 2, Google layout, keys in received order, number text kept (4.50).
EXPECTED_JSON_2 = """{
   "html_attributions" : [],
   "next_page_token" : "tok",
   "results" : [
      {
         "geometry" : {
            "location" : {
               "lat" : 34.0736204,
               "lng" : -118.4003563
            },
            "viewport" : {}
         },
         "name" : "Beverly Hills",
         "types" : [ "locality", "political" ],
         "rating" : 4.50,
         "photos" : []
      },
      {
         "name" : "Second \u00e9",
         "types" : [ "cafe" ]
      }
   ],
   "status" : "OK"
}"""


class PlacesStub(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802
        PlacesStub.requests.append(self.path)
        if "radius=666" in self.path:  # a failing Places call
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        if "radius=777" in self.path:  # not JSON
            self.send_response(200)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"<html>no!")
            return
        data = PLACES_BODY.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture(scope="session")
def places_url():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PlacesStub)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


# --------------------------------------------------------------------------- herd processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Herd:
    def __init__(self, tmp: Path, places_url: str, links: dict[str, list[str]], faults=()):
        self.ports = {n: free_port() for n in links}
        toml = tmp / "herd.toml"
        toml.write_text(
            "".join(
                f'[[server]]\nname = "{n}"\naddress = "127.0.0.1:{self.ports[n]}"\nneighbours = {json.dumps(nb)}\n'
                for n, nb in links.items()
            )
        )
        self.procs = {}
        self.logdir = tmp / "logs"
        self.cmds = {}
        for n in links:
            cmd = [sys.executable, str(SERVER), n, "--herd", str(toml), "--places-url", places_url,
                   "--log-dir", str(self.logdir)]
            for f in faults:
                cmd += ["--fault", f]
            self.cmds[n] = cmd
            self.procs[n] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for n in links:
            self.wait_up(n)

    def kill(self, n):
        self.procs[n].terminate()
        self.procs[n].wait(5)
        self.procs[n].stderr.close()

    def restart(self, n):
        self.procs[n] = subprocess.Popen(self.cmds[n], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.wait_up(n)

    def wait_up(self, n):
        for p in [self.ports[n]]:
            deadline = time.time() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", p), timeout=0.5).close()
                    break
                except OSError:
                    if time.time() > deadline or self.procs[n].poll() is not None:
                        raise RuntimeError(f"server {n} did not start: {self.procs[n].stderr.read()}")
                    time.sleep(0.05)

    def stop(self):
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            p.wait(5)
            p.stderr.close()


def send_eof(port: int, data: bytes, timeout=5.0) -> bytes:
    """eof framing: write everything, half-close, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def recv_until(s: socket.socket, n_or_pred) -> bytes:
    out = b""
    while not n_or_pred(out):
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


DIFF = rb"[+-][0-9]+\.[0-9]{9}"


def now_text() -> str:
    ns = time.time_ns()
    return f"{ns // 10**9}.{ns % 10**9:09d}"


# --------------------------------------------------------------------------- correct herd: A - B - C


@pytest.fixture(scope="module")
def herd(tmp_path_factory, places_url):
    h = Herd(tmp_path_factory.mktemp("herd"), places_url, {"A": ["B"], "B": [], "C": ["B"]})
    yield h
    h.stop()


def test_iamat_reply_exact(herd):
    t = now_text()
    line = f"IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 {t}".encode()
    out = send_eof(herd.ports["A"], line)  # eof framing, no newline
    m = re.fullmatch(rb"AT A (" + DIFF + rb") kiwi\.cs\.ucla\.edu \+34\.068930-118\.445127 " + re.escape(t.encode()) + rb"\n", out)
    assert m, out
    assert abs(float(m.group(1))) < 2.0


def test_negative_diff_and_operands_byte_for_byte(herd):
    out = send_eof(herd.ports["A"], b"  IAMAT\tneg.example  -33.86+151.20\t99999999999.5 \r\n")
    assert re.fullmatch(rb"AT A -[0-9]+\.[0-9]{9} neg\.example -33\.86\+151\.20 99999999999\.5\n", out), out
    # exact integer arithmetic: the fractional part is now_frac - 0.5 exactly to 9 digits
    out = send_eof(herd.ports["A"], b"IAMAT z +0+0 0.000000001\n")
    assert re.fullmatch(rb"AT A \+[0-9]+\.[0-9]{9} z \+0\+0 0\.000000001\n", out), out


def test_line_framing_and_pipelining(herd):
    t = now_text()
    with socket.create_connection(("127.0.0.1", herd.ports["B"]), timeout=5) as s:
        s.sendall(f"IAMAT p1 +1-1 {t}\n".encode())
        first = recv_until(s, lambda b: b.endswith(b"\n"))
        assert re.fullmatch(rb"AT B " + DIFF + rb" p1 \+1-1 " + t.encode() + rb"\n", first), first
        # pipelining: three commands in one write, replies in order
        s.sendall(f"IAMAT p2 +2-2 {t}\nBOGUS\nIAMAT p3 +3-3 {t}\n".encode())
        out = recv_until(s, lambda b: b.count(b"\n") >= 3)
        lines = out.split(b"\n")
        assert lines[0].startswith(b"AT B ") and b" p2 " in lines[0]
        assert lines[1] == b"? BOGUS"
        assert lines[2].startswith(b"AT B ") and b" p3 " in lines[2]
        s.shutdown(socket.SHUT_WR)
        assert recv_until(s, lambda b: False) == b""  # server closes after our EOF


def test_eof_framing_several_and_final_unterminated(herd):
    t = now_text()
    out = send_eof(herd.ports["C"], f"\n   \nIAMAT e1 +1+1 {t}\nNOPE x".encode())
    lines = out.split(b"\n")
    assert len(lines) == 3 and lines[2] == b""
    assert lines[0].startswith(b"AT C ") and lines[1] == b"? NOPE x"


INVALID = [
    b"HELLO",
    b"iamat a +1+1 1",
    b"IAMAT a +1+1",
    b"IAMAT a +1+1 1 extra",
    b"IAMAT a 34.0-118.0 1",
    b"IAMAT a +91-118 1",
    b"IAMAT a +90.0000001+0 1",
    b"IAMAT a +1-180.5 1",
    b"IAMAT a +1+1 1e9",
    b"IAMAT a +1+1 -5",
    b"IAMAT a +1+1 nan",
    b"IAMAT a +1+1 1.1234567890",
    b"IAMAT a +1+1 1.",
    b"IAMAT a +1.+1 1",
    b"WHATSAT never-heard-of 10 5",
    b"WHATSAT x 10",
    b"AT",
    b"\xff\xfe IAMAT",
]


def test_invalid_lines(herd):
    p = herd.ports["A"]
    send_eof(p, f"IAMAT known +1+1 {now_text()}".encode())
    cases = INVALID + [
        b"WHATSAT known 51 5",
        b"WHATSAT known 0 5",
        b"WHATSAT known 0.0 5",
        b"WHATSAT known -1 5",
        b"WHATSAT known 10 21",
        b"WHATSAT known 10 -1",
        b"WHATSAT known 10 1.5",
        b"WHATSAT known 1e1 5",
    ]
    for c in cases:
        out = send_eof(p, b" \t" + c + b" \r\n")
        assert out == b"? " + c + b"\n", (c, out)
    # all at once on one connection, replies in order
    out = send_eof(p, b"".join(c + b"\n" for c in cases))
    assert out == b"".join(b"? " + c + b"\n" for c in cases)


def test_whatsat_places_and_flooding(herd, places_url):
    t = now_text()
    at = send_eof(herd.ports["A"], f"IAMAT flood.me +34.068930-118.445127 {t}\n".encode())
    assert at.startswith(b"AT A ")
    deadline = time.time() + 5
    while True:  # the update travels A -> B -> C
        out = send_eof(herd.ports["C"], b"WHATSAT flood.me 10 2\n")
        if not out.startswith(b"?") or time.time() > deadline:
            break
        time.sleep(0.05)
    assert out == at + EXPECTED_JSON_2.encode() + b"\n\n"
    assert any("location=34.068930,-118.445127&radius=10000&key=test-key" in r for r in PlacesStub.requests)
    out = send_eof(herd.ports["B"], b"WHATSAT flood.me 0.0015 0\n")
    assert out.startswith(at)
    assert json.loads(out[len(at):])["results"] == []
    assert any("radius=1.5&" in r for r in PlacesStub.requests)
    # an older IAMAT at C still gets a reply but does not replace the stored line
    old = send_eof(herd.ports["C"], b"IAMAT flood.me +1+1 1.5\n")
    assert old.startswith(b"AT C ")
    time.sleep(0.2)
    assert send_eof(herd.ports["A"], b"WHATSAT flood.me 10 1\n").startswith(at)


def test_places_failure_is_google_shaped(herd):
    send_eof(herd.ports["A"], f"IAMAT failing +1+1 {now_text()}".encode())
    out = send_eof(herd.ports["A"], b"WHATSAT failing 0.666 3\n")
    at, rest = out.split(b"\n", 1)
    assert at.startswith(b"AT A ") and rest.endswith(b"}\n\n")
    obj = json.loads(rest)
    assert obj["status"] == "UNKNOWN_ERROR" and obj["results"] == [] and "500" in obj["error_message"]
    assert rest.startswith(b'{\n   "html_attributions" : [],\n   "results" : [],\n')


def test_places_not_json(herd):
    at = send_eof(herd.ports["A"], f"IAMAT nj +1+1 {now_text()}".encode())
    out = send_eof(herd.ports["A"], b"WHATSAT nj 0.777 3\n")
    assert out.startswith(at) and out.endswith(b"\n}\n\n")
    assert json.loads(out[len(at):])["status"] == "UNKNOWN_ERROR"


def test_logs_written(herd):
    log = (herd.logdir / "A.log").read_text()
    assert "IN " in log and "OUT " in log and "connection to B" in log
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", log, re.M)


# --------------------------------------------------------------------------- faults


@pytest.fixture(scope="module")
def fault_herds(tmp_path_factory, places_url):
    started = {}

    def get(fault, links=None):
        key = (fault, json.dumps(links))
        if key not in started:
            started[key] = Herd(tmp_path_factory.mktemp(fault), places_url, links or {"S": []}, [fault])
        return started[key]

    yield get
    for h in started.values():
        h.stop()


def test_unknown_fault_rejected(tmp_path):
    r = subprocess.run([sys.executable, str(SERVER), "A", "--herd", "x.toml", "--fault", "nope"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "float-position" in r.stderr and "no-relink" in r.stderr


def test_fault_float_position(fault_herds):
    out = send_eof(fault_herds("float-position").ports["S"], f"IAMAT k +34.068930-118.445127 {now_text()}".encode())
    assert b" k +34.06893-118.445127 " in out


def test_fault_six_digits_and_double_minus(fault_herds):
    out = send_eof(fault_herds("six-digits").ports["S"], f"IAMAT k +1+1 {now_text()}".encode())
    assert re.match(rb"AT S \+[0-9]+\.[0-9]{6} k ", out), out
    out = send_eof(fault_herds("double-minus").ports["S"], b"IAMAT k +1+1 99999999999.2")
    assert re.match(rb"AT S --[0-9]+\.[0-9]{9} k ", out), out


def test_fault_single_newline_and_untrimmed(fault_herds):
    for fault in ("single-newline", "untrimmed", "indent4"):
        p = fault_herds(fault).ports["S"]
        at = send_eof(p, f"IAMAT k +1+1 {now_text()}".encode())
        out = send_eof(p, b"WHATSAT k 10 2")
        assert out.startswith(at)
        body = out[len(at):]
        if fault == "single-newline":
            assert body == EXPECTED_JSON_2.encode() + b"\n"
        elif fault == "untrimmed":
            assert len(json.loads(body)["results"]) == 3
        else:
            assert body.startswith(b'{\n    "html_attributions": []') and body.endswith(b"}\n\n")


def test_fault_silent_invalid_and_crash(fault_herds):
    assert send_eof(fault_herds("silent-invalid").ports["S"], b"HELLO\nWHATSAT x 1 1\n") == b"? WHATSAT x 1 1\n"
    p = fault_herds("crash-float-radius").ports["S"]
    at = send_eof(p, f"IAMAT x +1+1 {now_text()}".encode())
    assert send_eof(p, b"WHATSAT x 10.5 5\nIAMAT y +1+1 1\n") == b""
    assert send_eof(p, b"WHATSAT x 10 0\n").startswith(at)


def test_fault_one_per_conn_and_untrimmed_copy(fault_herds):
    assert send_eof(fault_herds("one-per-conn").ports["S"], b"A\nB\n") == b"? A\n"
    assert send_eof(fault_herds("untrimmed-copy").ports["S"], b" \tA b \r\n") == b"?  \tA b \r\n"


def test_fault_exit_on_invalid(tmp_path, places_url):
    h = Herd(tmp_path, places_url, {"S": []}, ["exit-on-invalid"])
    try:
        assert send_eof(h.ports["S"], f"IAMAT k +1+1 {now_text()}".encode()).startswith(b"AT S ")
        assert send_eof(h.ports["S"], b"HELLO") == b""
        assert h.procs["S"].wait(5) == 1
    finally:
        h.stop()


def test_fault_no_flood(fault_herds):
    h = fault_herds("no-flood", {"A": ["B"], "B": []})
    send_eof(h.ports["A"], f"IAMAT nf +1+1 {now_text()}".encode())
    time.sleep(0.3)
    assert send_eof(h.ports["B"], b"WHATSAT nf 1 1") == b"? WHATSAT nf 1 1\n"


def wait_known(port, cid, deadline_s=3.0):
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        out = send_eof(port, f"WHATSAT {cid} 1 0".encode())
        if not out.startswith(b"?"):
            return out
        time.sleep(0.05)
    return out


@pytest.mark.parametrize("fault", [None, "no-relink"])
def test_neighbour_down_and_back(tmp_path, places_url, fault):
    h = Herd(tmp_path, places_url, {"A": ["B"], "B": []}, [fault] if fault else [])
    try:
        h.kill("B")
        at = send_eof(h.ports["A"], f"IAMAT d1 +1+1 {now_text()}".encode())  # reply not delayed
        assert at.startswith(b"AT A ")
        time.sleep(0.2)
        assert "dropped connection to B" in (h.logdir / "A.log").read_text()
        h.restart("B")
        at2 = send_eof(h.ports["A"], f"IAMAT d2 +1+1 {now_text()}".encode())
        out = wait_known(h.ports["B"], "d2", 1.0 if fault else 3.0)
        if fault:
            assert out == b"? WHATSAT d2 1 0\n"
        else:
            assert out.startswith(at2)
    finally:
        h.stop()


def test_fault_one_hop(fault_herds):
    h = fault_herds("one-hop", {"A": ["B"], "B": ["C"], "C": []})
    at = send_eof(h.ports["A"], f"IAMAT oh +1+1 {now_text()}".encode())
    assert wait_known(h.ports["B"], "oh").startswith(at)
    time.sleep(0.2)
    assert send_eof(h.ports["C"], b"WHATSAT oh 1 0") == b"? WHATSAT oh 1 0\n"


def test_fault_eof_only(fault_herds):
    p = fault_herds("eof-only").ports["S"]
    assert send_eof(p, b"X\nY") == b"? X\n? Y\n"
    with socket.create_connection(("127.0.0.1", p), timeout=0.5) as s:
        s.sendall(b"X\n")
        with pytest.raises(socket.timeout):
            s.recv(100)  # a line client never gets its reply


def test_fault_recompute_diff(fault_herds):
    h = fault_herds("recompute-diff", {"A": ["B"], "B": []})
    at = send_eof(h.ports["A"], f"IAMAT rd +1+1 {now_text()}".encode())
    out = wait_known(h.ports["B"], "rd")
    assert out.startswith(b"AT B ") and not out.startswith(at)
