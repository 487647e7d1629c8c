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

    def do_POST(self):  # noqa: N802  (Places API (New) searchNearby)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        PlacesStub.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if self.path != "/v1/places:searchNearby":
            return self.send_json(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
        if not self.headers.get("X-Goog-Api-Key"):
            return self.send_json(403, {"error": {"code": 403, "message": "no key", "status": "PERMISSION_DENIED"}})
        if not self.headers.get("X-Goog-FieldMask"):
            return self.send_json(400, {"error": {"code": 400, "message": "no mask", "status": "INVALID_ARGUMENT"}})
        request = json.loads(body)
        count = request.get("maxResultCount", 20)
        if not 1 <= count <= 20:  # as Google: 0 is refused
            return self.send_json(400, {"error": {"code": 400, "message": "maxResultCount", "status": "INVALID_ARGUMENT"}})
        radius = request["locationRestriction"]["circle"]["radius"]
        if radius == 666:  # a failing Places call
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        if radius == 4242:  # nothing there: Google answers {}
            return self.send_json(200, {})
        self.send_json(200, {"places": NEW_PLACES[:count]})

    def send_json(self, status, obj):
        data = json.dumps(obj, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


PlacesStub.posts = []

NEW_PLACES = [
    {
        "id": "p1",
        "types": ["locality", "political"],
        "formattedAddress": "Beverly Hills, CA, USA",
        "location": {"latitude": 34.0736204, "longitude": -118.4003563},
        "displayName": {"text": "Beverly Hills", "languageCode": "en"},
    },
    {"id": "p2", "displayName": {"text": "Second \u00e9", "languageCode": "fr"}},
    {"id": "p3", "displayName": {"text": "Third", "languageCode": "en"}},
]


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
    def __init__(self, tmp: Path, places_url: str, links: dict[str, list[str]], faults=(), args=(), server_args=None):
        """`args`: extra command-line arguments for every server; `server_args`: {name: [more]}."""
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
            cmd += list(args) + list((server_args or {}).get(n, []))
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

    def get(fault, links=None, args=()):
        key = (fault, json.dumps(links), tuple(args))
        if key not in started:
            started[key] = Herd(tmp_path_factory.mktemp(fault), places_url, links or {"S": []}, [fault], args)
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


# --------------------------------------------------------------------------- issue-10 faults
# (the "Missed" list; the same names exist in the reference server)


def read_reply(s: socket.socket, first=5.0, quiet=0.3) -> tuple[bytes, bool]:
    """Line client without a terminator to wait for: read until the server closes (True) or,
    once something came, until `quiet` seconds pass with nothing more (False)."""
    out = b""
    s.settimeout(first)
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return out, False
        except ConnectionResetError:
            return out, True
        if not chunk:
            return out, True
        out += chunk
        s.settimeout(quiet)


def stays_open(s: socket.socket, quiet=0.5) -> bool:
    """True if the server neither sends anything nor closes within `quiet` seconds."""
    s.settimeout(quiet)
    try:
        s.recv(1)  # data or a close: not "open and silent"
        return False
    except socket.timeout:
        return True


def test_fault_error_extra_newline(fault_herds, herd):
    p = fault_herds("error-extra-newline").ports["S"]
    assert send_eof(p, b"BOGUS 1\n") == b"? BOGUS 1\n\n"
    assert send_eof(p, b"IAMAT a +1+1 x\r\n") == b"? IAMAT a +1+1 x\n\n"
    assert send_eof(p, b"BOGUS 1") == b"? BOGUS 1\n"  # an eof command without '\n' is answered right
    assert send_eof(herd.ports["A"], b"BOGUS 1\n") == b"? BOGUS 1\n"


def test_fault_reply_blank(fault_herds, herd):
    data = b"\n \t\r\nX\n"
    assert send_eof(fault_herds("reply-blank").ports["S"], data) == b"? \n? \n? X\n"
    assert send_eof(herd.ports["A"], data) == b"? X\n"


def test_fault_rebuilt_copy(fault_herds, herd):
    line = b"WHATSAT  kiwi 010 5x"
    assert send_eof(fault_herds("rebuilt-copy").ports["S"], b"\t" + line + b" \n") == b"? WHATSAT kiwi 10 5x\n"
    assert send_eof(herd.ports["A"], b"\t" + line + b" \n") == b"? " + line + b"\n"


def test_fault_accept_nonfinite(fault_herds, herd):
    p = fault_herds("accept-nonfinite").ports["S"]
    t = now_text().encode()
    cases = [
        (b"IAMAT nf1 +1+1 Infinity", rb"AT S -inf nf1 \+1\+1 Infinity\n"),
        (b"IAMAT nf2 +1+1 nan", rb"AT S \+nan nf2 \+1\+1 nan\n"),
        (b"IAMAT nf3 +nan-inf " + t, rb"AT S " + DIFF + rb" nf3 \+nan-inf " + re.escape(t) + rb"\n"),
        (b"IAMAT nf4 +inf+0 " + t, rb"AT S " + DIFF + rb" nf4 \+inf\+0 " + re.escape(t) + rb"\n"),
    ]
    for cmd, want in cases:
        out = send_eof(p, cmd)
        assert re.fullmatch(want, out), (cmd, out)
        assert send_eof(herd.ports["A"], cmd) == b"? " + cmd + b"\n"
    assert re.match(rb"AT S " + DIFF + rb" nf3 \+nan-inf ", send_eof(p, b"WHATSAT nf3 10 0"))  # stored
    # finite operands keep their checks
    assert send_eof(p, b"IAMAT nf5 +91+0 1") == b"? IAMAT nf5 +91+0 1\n"
    assert send_eof(p, b"IAMAT nf5 +1+1 1e9") == b"? IAMAT nf5 +1+1 1e9\n"


def test_fault_whatsat_rerender(fault_herds, herd):
    for h, name, fault in ((fault_herds("whatsat-rerender"), "S", True), (herd, "A", False)):
        p = h.ports[name]
        t = now_text()
        at1 = send_eof(p, f"IAMAT wr1 -33.86+151.20 {t}".encode())
        at2 = send_eof(p, f"IAMAT wr2 +34.068930-118.445127 {t}".encode())
        assert b" wr1 -33.86+151.20 " in at1 and b" wr2 +34.068930-118.445127 " in at2  # IAMAT stays right
        out1 = send_eof(p, b"WHATSAT wr1 10 0")
        out2 = send_eof(p, b"WHATSAT wr2 10 0")
        if fault:
            assert out1.startswith(at1.replace(b" -33.86+151.20 ", b" -33.86151.2 ")), out1
            assert out2.startswith(at2.replace(b" +34.068930-118.445127 ", b" 34.06893-118.445127 ")), out2
        else:
            assert out1.startswith(at1) and out2.startswith(at2)


def test_fault_rejected_overwrites(fault_herds, herd):
    for h, name, fault in ((fault_herds("rejected-overwrites"), "S", True), (herd, "A", False)):
        p = h.ports[name]
        at = send_eof(p, f"IAMAT ro1 +1+1 {now_text()}".encode())
        assert send_eof(p, b"IAMAT ro1 +5+5 later") == b"? IAMAT ro1 +5+5 later\n"
        out = send_eof(p, b"WHATSAT ro1 10 0")
        assert out.startswith(at.replace(b" +1+1 ", b" +5+5 ") if fault else at), out


def test_fault_int_position_refused(fault_herds, herd):
    p = fault_herds("int-position-refused").ports["S"]
    t = now_text()
    at = send_eof(p, f"IAMAT ip1 +34-118 {t}".encode())
    assert re.fullmatch(rb"AT S " + DIFF + rb" ip1 \+34-118 " + t.encode() + rb"\n", at), at
    assert send_eof(p, b"WHATSAT ip1 10 0") == b"? WHATSAT ip1 10 0\n"
    at2 = send_eof(p, f"IAMAT ip2 +34.5-118.25 {t}".encode())
    assert send_eof(p, b"WHATSAT ip2 10 0").startswith(at2)
    at = send_eof(herd.ports["A"], f"IAMAT ip1 +34-118 {t}".encode())
    assert send_eof(herd.ports["A"], b"WHATSAT ip1 10 0").startswith(at)


def test_fault_nan_time_blocks(fault_herds, herd):
    p = fault_herds("nan-time-blocks").ports["S"]
    assert send_eof(p, b"IAMAT nb1 +1+1 nan") == b"AT S +nan nb1 +1+1 nan\n"
    assert send_eof(p, f"IAMAT nb1 +2+2 {now_text()}".encode()).startswith(b"AT S ")  # answered, not stored
    assert send_eof(p, b"WHATSAT nb1 10 0").startswith(b"AT S +nan nb1 +1+1 nan\n")
    assert send_eof(p, b"IAMAT nb2 +1+1 inf") == b"? IAMAT nb2 +1+1 inf\n"  # only nan
    a = herd.ports["A"]
    assert send_eof(a, b"IAMAT nb1 +1+1 nan") == b"? IAMAT nb1 +1+1 nan\n"
    at = send_eof(a, f"IAMAT nb1 +2+2 {now_text()}".encode())
    assert send_eof(a, b"WHATSAT nb1 10 0").startswith(at)


def test_fault_long_line_drop(fault_herds, herd):
    long = b"X" * 70000
    p = fault_herds("long-line-drop").ports["S"]
    with socket.create_connection(("127.0.0.1", p), timeout=5) as s:
        s.sendall(long + b"\nHELLO\n")
        assert read_reply(s) == (b"", True)  # closed without any reply
    edge = b"Y" * 65536  # exactly 64 KiB is still served
    assert send_eof(p, edge + b"\nHELLO\n") == b"? " + edge + b"\n? HELLO\n"
    with socket.create_connection(("127.0.0.1", herd.ports["A"]), timeout=5) as s:
        s.sendall(long + b"\nHELLO\n")
        assert recv_until(s, lambda b: b.count(b"\n") >= 2) == b"? " + long + b"\n? HELLO\n"


# --------------------------------------------------------------------------- issue-10 submission styles


def test_fault_never_close(fault_herds, herd):
    for port, fault in ((fault_herds("never-close").ports["S"], True), (herd.ports["A"], False)):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"BOGUS\n")
            assert recv_until(s, lambda b: b.endswith(b"\n")) == b"? BOGUS\n"
            s.shutdown(socket.SHUT_WR)
            assert stays_open(s) == fault  # the correct server closes after our EOF


def test_fault_no_final_newline(fault_herds):
    p = fault_herds("no-final-newline").ports["S"]
    t = now_text()
    with socket.create_connection(("127.0.0.1", p), timeout=5) as s:
        s.sendall(f"IAMAT nn1 +1+1 {t}\n".encode())
        at, closed = read_reply(s)
        assert re.fullmatch(rb"AT S " + DIFF + rb" nn1 \+1\+1 " + t.encode(), at) and not closed, at
        s.sendall(b"BOGUS\n")
        assert read_reply(s) == (b"? BOGUS", False)
        s.sendall(b"WHATSAT nn1 10 2\n")
        assert read_reply(s) == (at + b"\n" + EXPECTED_JSON_2.encode(), False)
        s.shutdown(socket.SHUT_WR)
        assert stays_open(s)
    # (the correct replies and close are test_line_framing_and_pipelining and test_whatsat_places_and_flooding)


def test_fault_read_once(fault_herds, herd):
    p = fault_herds("read-once").ports["S"]
    with socket.create_connection(("127.0.0.1", p), timeout=5) as s:
        s.sendall(b"ONE\nTWO")  # one read: both commands are in it
        assert read_reply(s) == (b"? ONE\n? TWO\n", False)
        s.sendall(b"THREE\n")
        assert stays_open(s)  # never read
        s.shutdown(socket.SHUT_WR)
        assert stays_open(s)
    with socket.create_connection(("127.0.0.1", herd.ports["A"]), timeout=5) as s:
        s.sendall(b"ONE\n")
        assert recv_until(s, lambda b: b.endswith(b"\n")) == b"? ONE\n"
        s.sendall(b"THREE\n")
        assert recv_until(s, lambda b: b.endswith(b"\n")) == b"? THREE\n"


def test_fault_one_way_links(fault_herds, herd):
    h = fault_herds("one-way-links", {"A": ["B"], "B": ["C"], "C": []})
    at = send_eof(h.ports["A"], f"IAMAT ow1 +1+1 {now_text()}".encode())
    assert wait_known(h.ports["C"], "ow1").startswith(at)  # A -> B -> C: each hop to a greater name
    send_eof(h.ports["C"], f"IAMAT ow2 +1+1 {now_text()}".encode())
    assert wait_known(h.ports["B"], "ow2", 1.0) == b"? WHATSAT ow2 1 0\n"  # C -> B is the wrong way
    assert send_eof(h.ports["A"], b"WHATSAT ow2 1 0") == b"? WHATSAT ow2 1 0\n"
    at = send_eof(herd.ports["C"], f"IAMAT ow2 +1+1 {now_text()}".encode())
    assert wait_known(herd.ports["A"], "ow2").startswith(at)  # the correct herd: C -> B -> A


def test_fault_peer_hello(tmp_path, places_url, herd):
    # A greets its peers; B is correct: it must answer or ignore the greeting and take the update.
    h = Herd(tmp_path, places_url, {"A": ["B"], "B": []}, server_args={"A": ["--fault", "peer-hello"]})
    try:
        at = send_eof(h.ports["A"], f"IAMAT ph1 +1+1 {now_text()}".encode())
        assert wait_known(h.ports["B"], "ph1").startswith(at)
        assert "IN  b'HELLO A'" in (h.logdir / "B.log").read_text()
    finally:
        h.stop()
    assert "IN  b'HELLO A'" not in (herd.logdir / "B.log").read_text()  # no greeting without the fault
    # the correct target as a receiver: junk from a peer that closes at once changes nothing else
    t = now_text()
    with socket.create_connection(("127.0.0.1", herd.ports["B"]), timeout=5) as s:
        s.sendall(f"HELLO X\nAT X +0.100000000 ph2 +1+1 {t} X\n".encode())
    assert wait_known(herd.ports["B"], "ph2").startswith(f"AT X +0.100000000 ph2 +1+1 {t}\n".encode())


def test_peer_format_flood(tmp_path, places_url, herd):
    h = Herd(tmp_path, places_url, {"A": ["B"], "B": ["C"], "C": []}, args=["--peer-format", "flood"])
    try:
        at = send_eof(h.ports["A"], f"IAMAT pf1 +1+1 {now_text()}".encode())
        assert wait_known(h.ports["C"], "pf1").startswith(at)
        assert re.search(r"IN  b'FLOOD [0-9]+ AT A [^']* pf1 [^']* A'", (h.logdir / "B.log").read_text())
        assert re.search(r"IN  b'FLOOD [0-9]+ AT A [^']* pf1 [^']* B'", (h.logdir / "C.log").read_text())
        assert send_eof(h.ports["B"], b"FLOOD x AT") == b"? FLOOD x AT\n"
    finally:
        h.stop()
    # the default format does not know FLOOD: it is an unknown command there
    line = b"FLOOD 1 AT A +0.100000000 pf2 +1+1 1.5 A"
    assert send_eof(herd.ports["A"], line) == b"? " + line + b"\n"


NEW_FIELD_MASK = "places.displayName,places.formattedAddress,places.location,places.id,places.types"


def new_api_request(count, lat, lng, radius):
    return {"maxResultCount": count, "locationRestriction": {"circle": {"center": {"latitude": lat, "longitude": lng}, "radius": radius}}}


@pytest.fixture(scope="module")
def new_api_server(tmp_path_factory, places_url):
    h = Herd(tmp_path_factory.mktemp("new-api"), places_url, {"S": []}, args=["--places-api", "new"])
    yield h.ports["S"]
    h.stop()


def test_new_api_request_and_reply(new_api_server):
    p = new_api_server
    t = now_text()
    at = send_eof(p, f"IAMAT na1 +34.068930-118.445127 {t}".encode())
    n_get = len(PlacesStub.requests)
    out = send_eof(p, b"WHATSAT na1 10 2\n")
    path, headers, body = PlacesStub.posts[-1]
    assert path == "/v1/places:searchNearby"
    assert headers["x-goog-api-key"] == "test-key" and headers["x-goog-fieldmask"] == NEW_FIELD_MASK
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == new_api_request(2, 34.06893, -118.445127, 10000)
    assert out == at + json.dumps({"places": NEW_PLACES[:2]}, indent=3, ensure_ascii=False).encode() + b"\n\n"
    assert out[len(at):].startswith(b'{\n   "places": [\n      {\n         "id": "p1",\n         "types": [\n')
    assert len(PlacesStub.requests) == n_get  # no legacy call
    # bound 0: the API refuses maxResultCount 0, so ask for 1 and cut to 0
    out = send_eof(p, b"WHATSAT na1 0.0015 0")
    assert json.loads(PlacesStub.posts[-1][2]) == new_api_request(1, 34.06893, -118.445127, 1.5)
    assert out == at + b'{\n   "places": []\n}\n\n'
    # nothing found: Google's {} stays {}
    assert send_eof(p, b"WHATSAT na1 4.242 5") == at + b"{}\n\n"
    # bound 20 asks for 20
    out = send_eof(p, b"WHATSAT na1 1 20")
    assert json.loads(PlacesStub.posts[-1][2])["maxResultCount"] == 20
    assert json.loads(out[len(at):]) == {"places": NEW_PLACES}


def test_new_api_failure(new_api_server):
    p = new_api_server
    at = send_eof(p, f"IAMAT na2 -33.86+151.20 {now_text()}".encode())
    out = send_eof(p, b"WHATSAT na2 0.666 3")
    assert json.loads(PlacesStub.posts[-1][2]) == new_api_request(3, -33.86, 151.2, 666)
    assert out.startswith(at) and out.endswith(b"}\n\n")
    err = json.loads(out[len(at):])["error"]
    assert err["code"] == 500 and err["status"] == "INTERNAL" and "500" in err["message"]


def test_fault_new_api_spurious_results(fault_herds):
    p = fault_herds("new-api-spurious-results").ports["S"]  # implies --places-api new
    at = send_eof(p, f"IAMAT ns1 +34.068930-118.445127 {now_text()}".encode())
    out = send_eof(p, b"WHATSAT ns1 10 2")
    assert json.loads(PlacesStub.posts[-1][2]) == new_api_request(2, 34.06893, -118.445127, 10000)
    assert json.loads(out[len(at):]) == {"places": NEW_PLACES[:2], "results": []}
    out = send_eof(p, b"WHATSAT ns1 10 0")
    assert json.loads(PlacesStub.posts[-1][2])["maxResultCount"] == 20
    assert out == at + json.dumps({"places": NEW_PLACES, "results": []}, indent=3, ensure_ascii=False).encode() + b"\n\n"


# --------------------------------------------------------------------------- --loop uvloop


def test_uvloop_herd_answers_floods_and_logs_its_loop(tmp_path, places_url):
    h = Herd(tmp_path, places_url, {"A": ["B"], "B": []}, args=["--loop", "uvloop"])
    try:
        t = now_text()
        at = send_eof(h.ports["A"], f"IAMAT uv.loop +34.068930-118.445127 {t}\n".encode())
        assert at.startswith(b"AT A ") and at.endswith(f" uv.loop +34.068930-118.445127 {t}\n".encode()), at
        deadline = time.time() + 5
        while True:
            out = send_eof(h.ports["B"], b"WHATSAT uv.loop 10 2\n")
            if not out.startswith(b"?") or time.time() > deadline:
                break
            time.sleep(0.05)
        assert out.startswith(at) and out.endswith(b"}\n\n"), out
        assert "event loop: uvloop" in (h.logdir / "A.log").read_text()
    finally:
        h.stop()


def test_unknown_loop_is_refused(tmp_path):
    r = subprocess.run([sys.executable, str(SERVER), "A", "--herd", "x.toml", "--loop", "trio"], capture_output=True)
    assert r.returncode == 2
    assert b"invalid choice: 'trio'" in r.stderr
