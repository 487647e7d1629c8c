#!/usr/bin/env python3
"""Proxy-herd server in Python asyncio (the "Python target").

A correct implementation of the proxy-herd protocol described in
/work/shared/spec/protocol.md, in the style of the course seed papers:
``asyncio.start_server`` for clients, one ``asyncio.open_connection`` per
flood message to each neighbour, ``aiohttp`` for Google Places.

Deliberate faults (realistic mistakes seen in course submissions) can be
switched on with ``--fault NAME`` (repeatable); see ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import decimal
import json
import logging
import os
import re
import sys
import time
import tomllib
import urllib.parse
from dataclasses import dataclass, field

import aiohttp
import yarl

# Client timestamps may have arbitrarily many integer digits; never let int() raise.
sys.set_int_max_str_digits(0)

GOOGLE_PLACES_URL = "https://maps.googleapis.com"
PLACES_TIMEOUT_S = 5.0
PEER_CONNECT_TIMEOUT_S = 3.0
MAX_LINE_BYTES = 1 << 20  # a line longer than this is answered as invalid and skipped
FLOOD_LOOP_LIMIT = 50

FAULTS = {
    "float-position": "echo the position re-rendered from floats (+34.068930 -> +34.06893)",
    "six-digits": "time difference printed with 6 fractional digits",
    "double-minus": "negative difference printed with a doubled sign (--1.200000000)",
    "no-sign": "positive difference printed without '+'",
    "float-diff": "difference computed as time.time() - float(client_time) (wrong low digits)",
    "single-newline": "only one newline after the WHATSAT JSON",
    "indent4": "WHATSAT JSON rendered with json.dumps(indent=4)",
    "untrimmed": "Places results not cut to the bound",
    "recompute-diff": "WHATSAT recomputes the difference with its own name instead of the stored AT line",
    "silent-invalid": "no reply at all for an unknown command word",
    "crash-float-radius": "int(radius): 'WHATSAT x 10.5 5' raises and the connection drops without reply",
    "one-per-conn": "answers only the first command of a connection, then closes",
    "no-radius-limit": "accepts radius > 50",
    "no-bound-limit": "accepts bound > 20",
    "untrimmed-copy": "'? ' reply copies the raw line including surrounding white space",
    "eof-only": "reads the whole input until EOF before answering anything",
    "stale-accepted": "stores IAMAT/flood updates even when older than the stored one",
    "no-flood": "never floods",
    "one-hop": "floods to direct neighbours only; never re-forwards what came from a peer",
    "flood-loop": "re-forwards every flood message even when not newer, also back to the sender "
    f"(bounded: {FLOOD_LOOP_LIMIT} re-forwards per client update)",
    "recompute-relay": "relayed/stored flood updates are rewritten with own name and a fresh difference",
    "no-relink": "once a neighbour connection fails, that neighbour is never tried again",
    "exit-on-invalid": "sys.exit(1) on an invalid command: the whole server stops, as student code "
    "that calls exit() on bad input does",
}

# ---------------------------------------------------------------------------
# Operand grammar (bytes regexes: ASCII digits only).

RE_POSITION = re.compile(rb"([+-])([0-9]+(?:\.[0-9]+)?)([+-])([0-9]+(?:\.[0-9]+)?)")
RE_TIME = re.compile(rb"([0-9]+)(?:\.([0-9]{1,9}))?")
RE_RADIUS = re.compile(rb"[0-9]+(?:\.[0-9]+)?")
RE_BOUND = re.compile(rb"[0-9]+")
# Lenient for peer messages: relay a peer's AT line as it wrote it (also a faulty peer's).
RE_DIFF = re.compile(rb"[+-]{0,2}[0-9]+(?:\.[0-9]+)?")


def exact_decimal(text: bytes) -> decimal.Decimal:
    """Exact decimal value of an ASCII number (no rounding whatever its length)."""
    ctx = decimal.Context(prec=len(text) + 10, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    return ctx.create_decimal(text.decode("ascii"))


def parse_position(pos: bytes):
    """Return (lat_text, lng_text) without leading '+', or None if invalid/out of range."""
    m = RE_POSITION.fullmatch(pos)
    if not m:
        return None
    lat = exact_decimal(m.group(2))
    lng = exact_decimal(m.group(4))
    if lat > 90 or lng > 180:
        return None
    lat_text = (b"-" if m.group(1) == b"-" else b"") + m.group(2)
    lng_text = (b"-" if m.group(3) == b"-" else b"") + m.group(4)
    return lat_text.decode("ascii"), lng_text.decode("ascii")


def parse_time_ns(t: bytes):
    """Client time 'digits[.1-9 digits]' as integer nanoseconds, or None."""
    m = RE_TIME.fullmatch(t)
    if not m:
        return None
    frac = (m.group(2) or b"").ljust(9, b"0")
    return int(m.group(1)) * 1_000_000_000 + int(frac)


def format_diff_ns(diff_ns: int) -> str:
    sign = "+" if diff_ns >= 0 else "-"
    a = abs(diff_ns)
    return f"{sign}{a // 1_000_000_000}.{a % 1_000_000_000:09d}"


def metres_text(radius: bytes) -> str:
    """radius_km * 1000 as the shortest exact decimal (10 -> 10000, 0.0015 -> 1.5)."""
    d = exact_decimal(radius).scaleb(3)
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    s = s.lstrip("0") or "0"
    if s.startswith("."):
        s = "0" + s
    return s


# ---------------------------------------------------------------------------
# Google-layout JSON rendering.


class RawNumber(str):
    """A JSON number kept as its original text."""


def _scalar(v) -> str:
    if isinstance(v, RawNumber):
        return str(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(v)  # plain int/float from our own objects


def _render(v, level: int) -> str:
    pad = "   " * (level + 1)
    end = "   " * level
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)} : {_render(x, level + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        if all(not isinstance(x, (dict, list)) for x in v):
            return "[ " + ", ".join(_scalar(x) for x in v) + " ]"
        return "[\n" + ",\n".join(pad + _render(x, level + 1) for x in v) + "\n" + end + "]"
    return _scalar(v)


def google_layout(obj) -> str:
    return _render(obj, 0)


def squeeze(text: str) -> str:
    return re.sub(r"\n{2,}", "\n", text).rstrip("\n")


# ---------------------------------------------------------------------------


@dataclass
class Record:
    time_ns: int
    line: str  # "AT NAME DIFF ID POS TIME"
    client_id: str
    pos: bytes
    time_text: bytes


@dataclass
class Peer:
    name: str
    host: str
    port: int
    dead: bool = False  # only used by the no-relink fault
    up: bool | None = None  # last known state, for connection/drop log notices


@dataclass
class Server:
    name: str
    host: str
    port: int
    peers: dict[str, Peer]
    places_url: str
    api_key: str
    faults: set[str]
    log: logging.Logger
    clients: dict[str, Record] = field(default_factory=dict)
    session: aiohttp.ClientSession | None = None
    tasks: set = field(default_factory=set)
    loop_counts: dict = field(default_factory=dict)

    def has(self, fault: str) -> bool:
        return fault in self.faults

    # -- connection handling ------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        peer = writer.get_extra_info("peername")
        self.log.info("connection from %s", peer)
        try:
            if self.has("eof-only"):
                data = await reader.read()
                lines = data.split(b"\n")
                for line in lines:
                    if not await self.process(line, writer):
                        return
            else:
                buf = b""
                skipping = False  # inside the tail of an over-long line
                while True:
                    while (nl := buf.find(b"\n")) >= 0:
                        line, buf = buf[:nl], buf[nl + 1 :]
                        if skipping:
                            skipping = False
                            continue
                        if not await self.process(line, writer):
                            return
                    if skipping:
                        buf = b""
                    elif len(buf) > MAX_LINE_BYTES:
                        # Over-long line: answer it as invalid now, drop the rest of it.
                        line, buf = buf, b""
                        if not await self.process(line, writer):
                            return
                        skipping = True
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    buf += chunk
                if buf and not skipping:
                    await self.process(buf, writer)
            self.log.info("client %s closed its side; closing", peer)
        except Exception as e:  # never let a handler failure take the server down
            self.log.exception("handler for %s failed: %r; dropping connection", peer, e)
        finally:
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:
                pass

    async def reply(self, writer, text: str | bytes):
        data = text.encode("utf-8") if isinstance(text, str) else text
        self.log.info("OUT %r", data)
        writer.write(data)
        await writer.drain()

    async def process(self, raw: bytes, writer) -> bool:
        """Handle one line (without its '\\n'). Returns False to close the connection."""
        stripped = raw.strip()
        if not stripped:
            return True
        self.log.info("IN  %r", raw)
        fields = stripped.split()
        try:
            stripped.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False  # not valid UTF-8: just an invalid command, echoed byte for byte
        cmd = fields[0]
        if not utf8:
            out = self.invalid(raw)
        elif cmd == b"IAMAT" and len(fields) == 4:
            out = self.iamat(fields, raw)
        elif cmd == b"WHATSAT" and len(fields) == 4:
            out = await self.whatsat(fields, raw)
        elif cmd == b"AT" and len(fields) == 7:
            out = self.flood_in(fields, raw)
        elif cmd in (b"IAMAT", b"WHATSAT", b"AT"):
            out = self.invalid(raw)
        else:
            out = None if self.has("silent-invalid") else self.invalid(raw)
            if out is None:
                self.log.info("(fault silent-invalid) no reply for unknown command")
        if out:
            await self.reply(writer, out)
        if self.has("one-per-conn"):
            return False
        return True

    def invalid(self, raw: bytes) -> bytes:
        if self.has("exit-on-invalid"):
            self.log.info("(fault exit-on-invalid) exiting on %r", raw)
            # SystemExit raised in a task stops the event loop and so the process.
            sys.exit(1)
        body = raw if self.has("untrimmed-copy") else raw.strip()
        return b"? " + body + b"\n"

    # -- IAMAT ----------------------------------------------------------------

    def diff_text(self, now_ns: int, client_ns: int, client_time: bytes) -> str:
        if self.has("float-diff"):
            d = time.time() - float(client_time)
            return f"{d:+.9f}"
        diff_ns = now_ns - client_ns
        if self.has("six-digits"):
            s = f"{abs(diff_ns) / 1e9:.6f}"
            s = ("+" if diff_ns >= 0 else "-") + s
        else:
            s = format_diff_ns(diff_ns)
        if self.has("double-minus") and diff_ns < 0:
            s = "-" + s
        if self.has("no-sign") and s.startswith("+"):
            s = s[1:]
        return s

    def pos_text(self, pos: bytes) -> str:
        if self.has("float-position"):
            m = RE_POSITION.fullmatch(pos)
            lat = float(m.group(1) + m.group(2))
            lng = float(m.group(3) + m.group(4))
            return f"{lat:+}{lng:+}"
        return pos.decode("utf-8")

    def iamat(self, fields: list[bytes], raw: bytes):
        now_ns = time.time_ns()
        _, cid, pos, ctime = fields
        client_ns = parse_time_ns(ctime)
        if parse_position(pos) is None or client_ns is None:
            return self.invalid(raw)
        at = " ".join(
            ["AT", self.name, self.diff_text(now_ns, client_ns, ctime), cid.decode(), self.pos_text(pos), ctime.decode()]
        )
        rec = Record(client_ns, at, cid.decode(), pos, ctime)
        if self.store(rec):
            self.flood(rec, exclude=None)
        return at + "\n"

    def newer(self, rec: Record) -> bool:
        old = self.clients.get(rec.client_id)
        if old is None:
            return True
        if rec.time_ns != old.time_ns:
            return rec.time_ns > old.time_ns
        return rec.line > old.line

    def store(self, rec: Record) -> bool:
        """Store if newer; return whether it was newer (and so should be flooded)."""
        is_newer = self.newer(rec)
        if is_newer:
            self.clients[rec.client_id] = rec
            self.log.info("stored %s", rec.line)
        elif self.has("stale-accepted"):
            old = self.clients.get(rec.client_id)
            if old is None or old.line != rec.line:
                self.clients[rec.client_id] = rec
                self.log.info("(fault stale-accepted) stored older %s", rec.line)
        return is_newer

    # -- flooding ---------------------------------------------------------------

    def flood_in(self, fields: list[bytes], raw: bytes):
        """A server-to-server 'AT NAME DIFF ID POS TIME SENDER' message. No reply."""
        _, origin, diff, cid, pos, ctime, sender = fields
        client_ns = parse_time_ns(ctime)
        if not RE_DIFF.fullmatch(diff) or parse_position(pos) is None or client_ns is None:
            return self.invalid(raw)
        sender_s = sender.decode()
        self.log.info("update from peer %s", sender_s)
        line = b" ".join(fields[:6]).decode()
        if self.has("recompute-relay"):
            now_ns = time.time_ns()
            line = " ".join(
                ["AT", self.name, self.diff_text(now_ns, client_ns, ctime), cid.decode(), pos.decode(), ctime.decode()]
            )
        rec = Record(client_ns, line, cid.decode(), pos, ctime)
        newer = self.store(rec)
        if self.has("flood-loop"):
            key = (rec.client_id, rec.time_ns)
            n = self.loop_counts.get(key, 0)
            if newer or n < FLOOD_LOOP_LIMIT:
                if not newer:
                    self.loop_counts[key] = n + 1
                self.flood(rec, exclude=None)
        elif newer and not self.has("one-hop"):
            self.flood(rec, exclude=sender_s)
        return None

    def flood(self, rec: Record, exclude: str | None):
        if self.has("no-flood"):
            return
        msg = f"{rec.line} {self.name}\n".encode()
        for peer in self.peers.values():
            if peer.name == exclude:
                continue
            if peer.dead:
                self.log.info("(fault no-relink) not contacting %s", peer.name)
                continue
            t = asyncio.get_running_loop().create_task(self.send_to_peer(peer, msg))
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)

    async def send_to_peer(self, peer: Peer, msg: bytes):
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(peer.host, peer.port), PEER_CONNECT_TIMEOUT_S
            )
        except (OSError, asyncio.TimeoutError) as e:
            self.log.info("dropped connection to %s (%s:%d): %s", peer.name, peer.host, peer.port, e or type(e).__name__)
            peer.up = False
            if self.has("no-relink"):
                peer.dead = True
            return
        self.log.info("new connection to %s (%s:%d)", peer.name, peer.host, peer.port)
        peer.up = True
        try:
            self.log.info("OUT to %s %r", peer.name, msg)
            writer.write(msg)
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            self.log.info("closed connection to %s", peer.name)
        except OSError as e:
            self.log.info("dropped connection to %s while sending: %s", peer.name, e)
            if self.has("no-relink"):
                peer.dead = True

    # -- WHATSAT ----------------------------------------------------------------

    async def whatsat(self, fields: list[bytes], raw: bytes):
        _, cid, radius, bound = fields
        if not RE_RADIUS.fullmatch(radius) or not RE_BOUND.fullmatch(bound):
            return self.invalid(raw)
        if self.has("crash-float-radius"):
            int(radius)  # ValueError on '10.5': the handler dies, the connection drops
        r = exact_decimal(radius)
        b = exact_decimal(bound)
        if r <= 0 or (r > 50 and not self.has("no-radius-limit")):
            return self.invalid(raw)
        if b > 20 and not self.has("no-bound-limit"):
            return self.invalid(raw)
        rec = self.clients.get(cid.decode())
        if rec is None:
            return self.invalid(raw)
        at = rec.line
        if self.has("recompute-diff"):
            at = " ".join(
                [
                    "AT",
                    self.name,
                    self.diff_text(time.time_ns(), rec.time_ns, rec.time_text),
                    rec.client_id,
                    rec.pos.decode(),
                    rec.time_text.decode(),
                ]
            )
        lat, lng = parse_position(rec.pos)
        body = await self.places(lat, lng, metres_text(radius), int(b))
        end = "\n" if self.has("single-newline") else "\n\n"
        return at + "\n" + body + end

    async def places(self, lat: str, lng: str, metres: str, bound: int) -> str:
        url = (
            f"{self.places_url}/maps/api/place/nearbysearch/json?location={lat},{lng}"
            f"&radius={metres}&key={urllib.parse.quote(self.api_key, safe='')}"
        )
        self.log.info("Places GET %s", url.replace(urllib.parse.quote(self.api_key, safe=""), "<key>") if self.api_key else url)
        try:
            if self.session is None:
                self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PLACES_TIMEOUT_S))
            async with self.session.get(yarl.URL(url, encoded=True)) as resp:
                text = await resp.text(errors="replace")
                if resp.status // 100 != 2:
                    raise PlacesError(f"Places HTTP status {resp.status}")
            try:
                obj = json.loads(text, parse_float=RawNumber, parse_int=RawNumber)
                plain = json.loads(text)
            except ValueError as e:
                raise PlacesError(f"Places answer is not JSON: {e}")
            if not isinstance(obj, dict):
                raise PlacesError("Places answer is not a JSON object")
        except PlacesError as e:
            return self.places_error(str(e))
        except asyncio.TimeoutError:
            return self.places_error(f"Places request timed out after {PLACES_TIMEOUT_S:g} s")
        except (aiohttp.ClientError, OSError, ValueError) as e:
            return self.places_error(f"Places request failed: {type(e).__name__}: {e}")
        if not self.has("untrimmed"):
            for o in (obj, plain):
                if isinstance(o.get("results"), list):
                    o["results"] = o["results"][:bound]
        if self.has("indent4"):
            return squeeze(json.dumps(plain, indent=4))
        return squeeze(google_layout(obj))

    def places_error(self, message: str) -> str:
        self.log.info("Places failure: %s", message)
        obj = {"html_attributions": [], "results": [], "status": "UNKNOWN_ERROR", "error_message": message}
        if self.has("indent4"):
            return squeeze(json.dumps(obj, indent=4))
        return squeeze(google_layout(obj))

    # -- lifecycle ----------------------------------------------------------------

    async def run(self):
        server = await asyncio.start_server(self.handle, self.host, self.port)
        addrs = ", ".join(str(s.getsockname()) for s in server.sockets)
        self.log.info("server %s listening on %s; neighbours: %s", self.name, addrs, ", ".join(self.peers) or "-")
        print(f"{self.name} listening on {addrs}", file=sys.stderr, flush=True)
        try:
            async with server:
                await server.serve_forever()
        finally:
            if self.session is not None:
                await self.session.close()


class PlacesError(Exception):
    pass


# ---------------------------------------------------------------------------
# Command line and herd file.


def split_address(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"bad address {addr!r} (want HOST:PORT)")
    return host.strip("[]"), int(port)


def load_herd(path: str):
    """Return {name: (host, port)} and {name: set(neighbours)} with links made bidirectional."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    servers = data.get("server")
    if not isinstance(servers, list) or not servers:
        raise ValueError(f"{path}: no [[server]] entries")
    addrs: dict[str, tuple[str, int]] = {}
    links: dict[str, set[str]] = {}
    for s in servers:
        name = s["name"]
        addrs[name] = split_address(s["address"])
        links.setdefault(name, set())
    for s in servers:
        for n in s.get("neighbours", []):
            if n not in addrs:
                raise ValueError(f"{path}: {s['name']} names unknown neighbour {n!r}")
            if n != s["name"]:
                links[s["name"]].add(n)
                links[n].add(s["name"])
    return addrs, links


def fault_name(value: str) -> str:
    if value not in FAULTS:
        raise argparse.ArgumentTypeError(
            f"unknown fault {value!r}; valid faults: {', '.join(FAULTS)}"
        )
    return value


def parse_args(argv=None):
    fault_help = "\n".join(f"  {k:<20} {v}" for k, v in FAULTS.items())
    p = argparse.ArgumentParser(
        description="Proxy-herd server (Python asyncio target). Correct per protocol.md unless "
        "deliberate faults are switched on with --fault.",
        epilog="faults:\n" + fault_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME", help="this server's name in the herd file")
    p.add_argument("--herd", required=True, metavar="FILE.toml", help="herd file ([[server]] name/address/neighbours)")
    p.add_argument("--port", type=int, help="listen on this port instead of the one in the herd file")
    p.add_argument(
        "--places-url",
        default=os.environ.get("HERD_PLACES_URL", GOOGLE_PLACES_URL),
        metavar="URL",
        help="Places API base URL (default: $HERD_PLACES_URL or %s); key from $GOOGLE_PLACES_API_KEY" % GOOGLE_PLACES_URL,
    )
    p.add_argument("--log-dir", default="logs", metavar="DIR", help="log to DIR/NAME.log (default: ./logs)")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        type=fault_name,
        metavar="F",
        help="switch on a deliberate fault (repeatable); see the list below",
    )
    return p, p.parse_args(argv)


def make_logger(log_dir: str, name: str) -> logging.Logger:
    os.makedirs(log_dir, exist_ok=True)
    log = logging.getLogger(f"herd.{name}")
    log.setLevel(logging.INFO)
    h = logging.FileHandler(os.path.join(log_dir, f"{name}.log"), encoding="utf-8")
    fmt = logging.Formatter("%(asctime)s.%(msecs)03dZ %(name)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    fmt.converter = time.gmtime
    h.setFormatter(fmt)
    log.addHandler(h)
    log.propagate = False
    return log


def main(argv=None):
    parser, args = parse_args(argv)
    try:
        addrs, links = load_herd(args.herd)
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as e:
        parser.error(f"cannot read herd file: {e}")
    if args.name not in addrs:
        parser.error(f"server {args.name!r} is not in {args.herd} (servers: {', '.join(addrs)})")
    host, port = addrs[args.name]
    if args.port is not None:
        host, port = "127.0.0.1", args.port
    places_url = args.places_url.rstrip("/")
    api_key = os.environ.get("GOOGLE_PLACES_API_KEY")
    if api_key is None:
        if places_url == GOOGLE_PLACES_URL:
            print("warning: GOOGLE_PLACES_API_KEY is not set", file=sys.stderr)
            api_key = ""
        else:
            api_key = "test-key"
    faults = set(args.fault)
    print(
        f"{args.name}: active faults: {', '.join(sorted(faults)) if faults else 'none'}",
        file=sys.stderr,
        flush=True,
    )
    log = make_logger(args.log_dir, args.name)
    log.info("starting; faults: %s", ", ".join(sorted(faults)) or "none")
    peers = {n: Peer(n, *addrs[n]) for n in sorted(links[args.name])}
    server = Server(args.name, host, port, peers, places_url, api_key, faults, log)
    try:
        asyncio.run(server.run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
