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
import math
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
ELSEWHERE_PLACES_URL = "http://127.0.0.1:9"  # the places-elsewhere fault's fixed base URL
FLOOD_RETRIES = 3  # the flood-before-reply fault's connection attempts per neighbour
FLOOD_RETRY_GAP_S = 0.4  # and the wait between them
SLOW_PLACES_S = 1.0  # the slow-places fault's wait before each Places request

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
    "error-extra-newline": "the '? ' copy keeps the command's '\\n': a '\\n'-terminated invalid command gets "
    "'? CMD\\n\\n' (an unterminated one is answered right)",
    "reply-blank": "a blank or white-space-only line gets the reply '? \\n' (instead of no reply)",
    "rebuilt-copy": "the '? ' copy is rebuilt from the fields: joined by one space, decimal integers without "
    "leading zeros ('WHATSAT  kiwi 010 5x' -> '? WHATSAT kiwi 10 5x')",
    "accept-nonfinite": "times and position parts that float() reads as inf/nan ('Infinity', 'inf', 'nan', "
    "'+nan-inf', '+inf+0') are accepted, answered with an AT line and stored",
    "whatsat-rerender": "WHATSAT re-renders the stored position from floats, losing the longitude's '+' "
    "('-33.86+151.20' -> '-33.86151.2'); the IAMAT reply stays right",
    "rejected-overwrites": "an IAMAT with a valid position but an invalid time is answered '? ' yet still "
    "overwrites the position stored for that (known) client",
    "int-position-refused": "IAMAT accepts '+34-118', but WHATSAT for such a client answers '? ' (its "
    "pattern requires a fraction in both parts)",
    "nan-time-blocks": "a 'nan' client time is accepted and stored (for a new client); every later update "
    "of that client is then dropped (every comparison with NaN is false)",
    "long-line-drop": "a line longer than 64 KiB (65536 bytes) closes the connection without a reply",
    "new-api-spurious-results": "implies --places-api new; adds a spurious '\"results\": []' key, and bound 0 "
    "asks for 20 places and is not cut (bound 0 gives up to 20 places)",
    "no-final-newline": "replies carry no trailing newline (AT, '? ' and WHATSAT end without '\\n'), and the "
    "server never closes a connection first, not even after the client's EOF",
    "never-close": "replies are right, but the server never closes a connection, not even after the "
    "client's EOF",
    "read-once": "one reader.read(1024) per connection: answers the command(s) in it, then waits forever "
    "without reading again or closing",
    "one-way-links": "floods only to neighbours whose name sorts after its own (each link works one way, "
    "from the smaller name to the greater), so updates entering at 'late' servers do not spread",
    "peer-hello": "sends a non-AT greeting line 'HELLO NAME' to peers before each flood message (tests that "
    "receivers ignore what they do not understand)",
    "echo-iamat": "the AT line echoes the whole IAMAT command after the difference ('AT NAME DIFF IAMAT ID POS "
    "TIME'); it is stored, answered to WHATSAT and flooded so, and peers read it back",
    "radius-km": "the WHATSAT radius goes to Places unconverted, in km where Places wants metres (10 -> radius=10)",
    "places-elsewhere": f"ignores --places-url and $HERD_PLACES_URL, as code with Google's URL written in does: "
    f"Places requests go to {ELSEWHERE_PLACES_URL} (nothing listens there, standing for a Places service "
    "that refuses the request), so every WHATSAT relays an error object",
    "flood-before-reply": f"an IAMAT is answered only once its flood is sent, and a neighbour that refuses the "
    f"connection is tried {FLOOD_RETRIES} times {FLOOD_RETRY_GAP_S:g} s apart: while a neighbour is down every "
    "IAMAT waits",
    "slow-places": f"correct, but each Places request waits {SLOW_PLACES_S:g} s first, as a distant Places "
    "service does (a WHATSAT takes far longer than an IAMAT)",
}

# Options that pick a CORRECT alternative design (not faults); listed in --help too.
OPTIONS = {
    "--places-api new": "call Places API (New) (POST /v1/places:searchNearby) instead of legacy Nearby Search",
    "--peer-format flood": "server-to-server messages are 'FLOOD SEQ AT NAME DIFF ID POS TIME SENDER'",
    "--loop uvloop": "run on uvloop (libuv) instead of asyncio's own event loop; same behaviour, for speed comparisons",
}

NEW_API_PATH = "/v1/places:searchNearby"
NEW_API_FIELD_MASK = "places.displayName,places.formattedAddress,places.location,places.id,places.types"
NEW_API_MAX_RESULTS = 20
LONG_LINE_BYTES = 65536  # the long-line-drop fault's limit (asyncio's default readline limit)
READ_ONCE_BYTES = 1024  # the read-once fault's single read

# ---------------------------------------------------------------------------
# Operand grammar (bytes regexes: ASCII digits only).

RE_POSITION = re.compile(rb"([+-])([0-9]+(?:\.[0-9]+)?)([+-])([0-9]+(?:\.[0-9]+)?)")
RE_TIME = re.compile(rb"([0-9]+)(?:\.([0-9]{1,9}))?")
RE_RADIUS = re.compile(rb"[0-9]+(?:\.[0-9]+)?")
RE_BOUND = re.compile(rb"[0-9]+")
# Lenient for peer messages: relay a peer's AT line as it wrote it (also a faulty peer's).
RE_DIFF = re.compile(rb"[+-]{0,2}[0-9]+(?:\.[0-9]+)?")
# What Python float() reads as inf/nan (the accept-nonfinite and nan-time-blocks faults).
RE_NONFINITE = re.compile(rb"(?i)[+-]?(?:infinity|inf|nan)")
RE_NAN = re.compile(rb"(?i)[+-]?nan")
RE_POSITION_FLOAT = re.compile(
    rb"(?i)([+-])([0-9]+(?:\.[0-9]+)?|infinity|inf|nan)([+-])([0-9]+(?:\.[0-9]+)?|infinity|inf|nan)"
)
# The int-position-refused fault's WHATSAT pattern: a fraction in both parts.
RE_POSITION_FRACTION = re.compile(rb"[+-][0-9]+\.[0-9]+[+-][0-9]+\.[0-9]+")


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


def split_lines(data: bytes) -> list[tuple[bytes, bool]]:
    """The lines of a chunk as (line without '\\n', whether it had one); a final empty piece is no line."""
    pieces = data.split(b"\n")
    lines = [(p, True) for p in pieces[:-1]]
    if pieces[-1]:
        lines.append((pieces[-1], False))
    return lines


def is_flood_message(fields: list[bytes]) -> bool:
    """'FLOOD SEQ AT NAME DIFF ID POS TIME SENDER' (the --peer-format flood message)."""
    return len(fields) == 9 and fields[0] == b"FLOOD" and RE_BOUND.fullmatch(fields[1]) is not None and fields[2] == b"AT"


def json_number(text: str) -> int | float:
    """A decimal text as the JSON number it names (an int when it has no fraction)."""
    d = decimal.Decimal(text)
    return int(d) if d == d.to_integral_value() else float(d)


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
    places_api: str = "legacy"  # or "new": Places API (New)
    peer_format: str = "at"  # or "flood": 'FLOOD SEQ AT ...' peer messages
    clients: dict[str, Record] = field(default_factory=dict)
    session: aiohttp.ClientSession | None = None
    tasks: set = field(default_factory=set)
    loop_counts: dict = field(default_factory=dict)
    flood_seq: int = 0
    flood_sends: list = field(default_factory=list)  # the last flood's send tasks
    # Connections a fault keeps open, with their handler tasks: asyncio holds tasks only weakly,
    # and a connection that is no longer read is otherwise collected (and closed) by the GC.
    held_open: list = field(default_factory=list)

    def has(self, fault: str) -> bool:
        return fault in self.faults

    # -- connection handling ------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        peer = writer.get_extra_info("peername")
        self.log.info("connection from %s", peer)
        try:
            if self.has("read-once"):
                data = await reader.read(READ_ONCE_BYTES)
                for line, terminated in split_lines(data):
                    if not await self.process(line, writer, terminated):
                        return
                await self.hold_open(peer, writer, "read-once")
                return
            if self.has("eof-only"):
                data = await reader.read()
                for line, terminated in split_lines(data):
                    if not await self.process(line, writer, terminated):
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
                        if not await self.process(line, writer, terminated=True):
                            return
                    if skipping:
                        buf = b""
                    elif len(buf) > MAX_LINE_BYTES:
                        # Over-long line: answer it as invalid now, drop the rest of it.
                        line, buf = buf, b""
                        if not await self.process(line, writer, terminated=False):
                            return
                        skipping = True
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    buf += chunk
                if buf and not skipping:
                    await self.process(buf, writer, terminated=False)
            self.log.info("client %s closed its side; closing", peer)
            for fault in ("never-close", "no-final-newline"):
                if self.has(fault):
                    await self.hold_open(peer, writer, fault)
        except Exception as e:  # never let a handler failure take the server down
            self.log.exception("handler for %s failed: %r; dropping connection", peer, e)
        finally:
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:
                pass

    async def hold_open(self, peer, writer, fault: str):
        """Never close this connection (the socket stays open until the process ends)."""
        self.log.info("(fault %s) keeping the connection from %s open, not reading", fault, peer)
        self.held_open.append((writer, asyncio.current_task()))
        await asyncio.Event().wait()

    async def reply(self, writer, text: str | bytes):
        data = text.encode("utf-8") if isinstance(text, str) else text
        if self.has("no-final-newline"):
            data = data.rstrip(b"\n")
        self.log.info("OUT %r", data)
        try:
            writer.write(data)
            await writer.drain()
        except ConnectionError as e:
            # The other side is gone (a peer that closes right after sending does that): the
            # lines it sent before are still handled.
            self.log.info("cannot write to %s: %s", writer.get_extra_info("peername"), e)

    async def process(self, raw: bytes, writer, terminated: bool) -> bool:
        """Handle one line (without its '\\n'; `terminated` tells whether it had one).

        Returns False to close the connection."""
        if self.has("long-line-drop") and len(raw) > LONG_LINE_BYTES:
            self.log.info("(fault long-line-drop) %d-byte line: closing without a reply", len(raw))
            return False
        stripped = raw.strip()
        if not stripped:
            if self.has("reply-blank") and (raw or terminated):
                self.log.info("IN  %r", raw)
                await self.reply(writer, b"? \n")
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
            self.flood_sends = []
            out = self.iamat(fields, raw)
            if self.has("flood-before-reply") and self.flood_sends:
                await asyncio.gather(*self.flood_sends)
        elif cmd == b"WHATSAT" and len(fields) == 4:
            out = await self.whatsat(fields, raw)
        elif cmd == b"AT" and len(fields) == 7:
            out = self.flood_in(fields, raw)
        elif cmd == b"AT" and len(fields) == 8 and fields[3] == b"IAMAT" and self.has("echo-iamat"):
            out = self.flood_in(fields, raw)
        elif self.peer_format == "flood" and is_flood_message(fields):
            out = self.flood_in(fields[2:], raw)
        elif cmd in (b"IAMAT", b"WHATSAT", b"AT") or (self.peer_format == "flood" and cmd == b"FLOOD"):
            out = self.invalid(raw)
        else:
            out = None if self.has("silent-invalid") else self.invalid(raw)
            if out is None:
                self.log.info("(fault silent-invalid) no reply for unknown command")
        if out and terminated and self.has("error-extra-newline") and isinstance(out, bytes) and out.startswith(b"? "):
            out += b"\n"  # the copy kept the command's own '\n'
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
        if self.has("untrimmed-copy"):
            body = raw
        elif self.has("rebuilt-copy"):
            body = b" ".join(str(int(f)).encode() if RE_BOUND.fullmatch(f) else f for f in raw.split())
        else:
            body = raw.strip()
        return b"? " + body + b"\n"

    # -- operands (the parsing faults live here) ------------------------------

    def time_value(self, t: bytes):
        """Client time as integer nanoseconds, or None if invalid.

        Under accept-nonfinite / nan-time-blocks a time float() reads as inf/nan is accepted
        as that float (comparisons then follow IEEE rules, which is what nan-time-blocks shows)."""
        ns = parse_time_ns(t)
        if ns is None and (
            (self.has("accept-nonfinite") and RE_NONFINITE.fullmatch(t))
            or (self.has("nan-time-blocks") and RE_NAN.fullmatch(t))
        ):
            return float(t)
        return ns

    def position_parts(self, pos: bytes):
        """(lat_text, lng_text) as parse_position gives them, or None if invalid."""
        parts = parse_position(pos)
        if parts is None and self.has("accept-nonfinite"):
            m = RE_POSITION_FLOAT.fullmatch(pos)
            if m:
                lat, lng = float(m.group(1) + m.group(2)), float(m.group(3) + m.group(4))
                # the range check of finite parts stays; inf and nan pass (no isfinite check)
                if (math.isfinite(lat) and abs(lat) > 90) or (math.isfinite(lng) and abs(lng) > 180):
                    return None
                lat_text = (b"-" if m.group(1) == b"-" else b"") + m.group(2)
                lng_text = (b"-" if m.group(3) == b"-" else b"") + m.group(4)
                return lat_text.decode("ascii"), lng_text.decode("ascii")
        return parts

    def diff_ok(self, diff: bytes) -> bool:
        if RE_DIFF.fullmatch(diff):
            return True
        # a peer with the same parsing fault sends '+nan' / '-inf' differences
        return (self.has("accept-nonfinite") or self.has("nan-time-blocks")) and bool(RE_NONFINITE.fullmatch(diff))

    # -- IAMAT ----------------------------------------------------------------

    def diff_text(self, now_ns: int, client_ns, client_time: bytes) -> str:
        if isinstance(client_ns, float):  # inf/nan time (accept-nonfinite, nan-time-blocks)
            return f"{time.time() - client_ns:+.9f}"
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
            if m:
                lat = float(m.group(1) + m.group(2))
                lng = float(m.group(3) + m.group(4))
                return f"{lat:+}{lng:+}"
        return pos.decode("utf-8")

    def iamat(self, fields: list[bytes], raw: bytes):
        now_ns = time.time_ns()
        _, cid, pos, ctime = fields
        client_ns = self.time_value(ctime)
        if self.position_parts(pos) is None or client_ns is None:
            if client_ns is None and self.has("rejected-overwrites"):
                self.overwrite_position(cid.decode(), pos)
            return self.invalid(raw)
        echo = ["IAMAT"] if self.has("echo-iamat") else []
        at = " ".join(
            ["AT", self.name, self.diff_text(now_ns, client_ns, ctime), *echo, cid.decode(), self.pos_text(pos), ctime.decode()]
        )
        rec = Record(client_ns, at, cid.decode(), pos, ctime)
        if self.store(rec):
            self.flood(rec, exclude=None)
        return at + "\n"

    def overwrite_position(self, cid: str, pos: bytes):
        """rejected-overwrites: the position was stored before the time was checked."""
        rec = self.clients.get(cid)
        if rec is None or self.position_parts(pos) is None:
            return
        parts = rec.line.split(" ")
        parts[4] = pos.decode()
        rec.line, rec.pos = " ".join(parts), pos
        self.log.info("(fault rejected-overwrites) stored position of rejected IAMAT: %s", rec.line)

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
        # Under echo-iamat the line is 'AT NAME DIFF IAMAT ID POS TIME SENDER' and is stored as it came.
        operands = fields[:3] + fields[4:] if len(fields) == 8 else fields
        _, origin, diff, cid, pos, ctime, sender = operands
        client_ns = self.time_value(ctime)
        if not self.diff_ok(diff) or self.position_parts(pos) is None or client_ns is None:
            return self.invalid(raw)
        sender_s = sender.decode()
        self.log.info("update from peer %s", sender_s)
        line = b" ".join(fields[:-1]).decode()
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

    def peer_message(self, rec: Record) -> bytes:
        msg = f"{rec.line} {self.name}\n"
        if self.peer_format == "flood":
            self.flood_seq += 1
            msg = f"FLOOD {self.flood_seq} {msg}"
        return msg.encode()

    def flood(self, rec: Record, exclude: str | None):
        self.flood_sends = []  # this flood's sends (the flood-before-reply fault awaits them)
        if self.has("no-flood"):
            return
        msg = self.peer_message(rec)
        for peer in self.peers.values():
            if peer.name == exclude:
                continue
            if self.has("one-way-links") and not peer.name > self.name:
                continue
            if peer.dead:
                self.log.info("(fault no-relink) not contacting %s", peer.name)
                continue
            t = asyncio.get_running_loop().create_task(self.send_to_peer(peer, msg))
            self.flood_sends.append(t)
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)

    async def send_to_peer(self, peer: Peer, msg: bytes):
        attempts = FLOOD_RETRIES if self.has("flood-before-reply") else 1
        try:
            for attempt in range(attempts):
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(peer.host, peer.port), PEER_CONNECT_TIMEOUT_S
                    )
                    break
                except OSError:
                    if attempt + 1 == attempts:
                        raise
                    await asyncio.sleep(FLOOD_RETRY_GAP_S)
        except (OSError, asyncio.TimeoutError) as e:
            self.log.info("dropped connection to %s (%s:%d): %s", peer.name, peer.host, peer.port, e or type(e).__name__)
            peer.up = False
            if self.has("no-relink"):
                peer.dead = True
            return
        self.log.info("new connection to %s (%s:%d)", peer.name, peer.host, peer.port)
        peer.up = True
        if self.has("peer-hello"):
            msg = f"HELLO {self.name}\n".encode() + msg  # one write: the greeting, then the update
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
        if self.has("int-position-refused") and not RE_POSITION_FRACTION.fullmatch(rec.pos):
            self.log.info("(fault int-position-refused) stored position %r has no fraction", rec.pos)
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
        lat, lng = self.position_parts(rec.pos)
        if self.has("whatsat-rerender"):
            parts = at.split(" ")
            parts[4] = f"{float(lat)}{float(lng)}"  # str(float): no '+', trailing zeros lost
            at = " ".join(parts)
        metres = radius.decode() if self.has("radius-km") else metres_text(radius)
        if self.has("slow-places"):
            await asyncio.sleep(SLOW_PLACES_S)
        if self.places_api == "new":
            body = await self.places_new(lat, lng, metres, int(b))
        else:
            body = await self.places(lat, lng, metres, int(b))
        end = "\n" if self.has("single-newline") else "\n\n"
        return at + "\n" + body + end

    def http(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PLACES_TIMEOUT_S))
        return self.session

    async def places(self, lat: str, lng: str, metres: str, bound: int) -> str:
        url = (
            f"{self.places_url}/maps/api/place/nearbysearch/json?location={lat},{lng}"
            f"&radius={metres}&key={urllib.parse.quote(self.api_key, safe='')}"
        )
        self.log.info("Places GET %s", url.replace(urllib.parse.quote(self.api_key, safe=""), "<key>") if self.api_key else url)
        try:
            async with self.http().get(yarl.URL(url, encoded=True)) as resp:
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

    async def places_new(self, lat: str, lng: str, metres: str, bound: int) -> str:
        """Places API (New) searchNearby; the answer with `places` cut to the bound, as json.dumps(indent=3)."""
        spurious = self.has("new-api-spurious-results")
        # The API refuses maxResultCount 0; the fault's `bound or 20` asks for 20 on bound 0.
        count = (min(bound, NEW_API_MAX_RESULTS) or NEW_API_MAX_RESULTS) if spurious else min(max(bound, 1), NEW_API_MAX_RESULTS)
        request = {
            "maxResultCount": count,
            "locationRestriction": {
                "circle": {"center": {"latitude": float(lat), "longitude": float(lng)}, "radius": json_number(metres)}
            },
        }
        headers = {
            "Content-Type": "application/json",
            "X-Goog-Api-Key": self.api_key,
            "X-Goog-FieldMask": NEW_API_FIELD_MASK,
        }
        data = json.dumps(request)
        self.log.info("Places POST %s%s %s", self.places_url, NEW_API_PATH, data)
        try:
            async with self.http().post(self.places_url + NEW_API_PATH, data=data.encode(), headers=headers) as resp:
                status, text = resp.status, await resp.text(errors="replace")
        except asyncio.TimeoutError:
            return self.new_api_error(504, f"Places request timed out after {PLACES_TIMEOUT_S:g} s", "DEADLINE_EXCEEDED")
        except (aiohttp.ClientError, OSError, ValueError) as e:
            return self.new_api_error(503, f"Places request failed: {type(e).__name__}: {e}", "UNAVAILABLE")
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            return self.new_api_error(status if status // 100 != 2 else 502, f"Places HTTP status {status}, answer is not a JSON object", "INTERNAL")
        if status // 100 == 2:
            if isinstance(obj.get("places"), list) and not (spurious and bound == 0):
                obj["places"] = obj["places"][:bound]
            if spurious:
                obj["results"] = []
        else:
            self.log.info("Places failure: HTTP status %d", status)  # Google's error object, passed on
        return self.render_new(obj)

    def new_api_error(self, code: int, message: str, status: str) -> str:
        self.log.info("Places failure: %s", message)
        return self.render_new({"error": {"code": code, "message": message, "status": status}})

    def render_new(self, obj) -> str:
        return squeeze(json.dumps(obj, indent=4 if self.has("indent4") else 3, ensure_ascii=False))

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
    fault_help = "\n".join(f"  {k:<25} {v}" for k, v in FAULTS.items())
    option_help = "\n".join(f"  {k:<25} {v}" for k, v in OPTIONS.items())
    p = argparse.ArgumentParser(
        description="Proxy-herd server (Python asyncio target). Correct per protocol.md unless "
        "deliberate faults are switched on with --fault.",
        epilog="correct alternative designs:\n" + option_help + "\n\nfaults:\n" + fault_help,
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
    p.add_argument(
        "--places-api",
        choices=["legacy", "new"],
        default="legacy",
        help="legacy Nearby Search (default) or Places API (New) searchNearby; both are correct",
    )
    p.add_argument(
        "--peer-format",
        choices=["at", "flood"],
        default="at",
        help="server-to-server messages: 'AT ... SENDER' (default) or 'FLOOD SEQ AT ... SENDER'; both are correct",
    )
    p.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="event loop: asyncio's own (default) or uvloop (pip install uvloop; see requirements.txt)",
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
    if "places-elsewhere" in args.fault:
        places_url = ELSEWHERE_PLACES_URL
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
    if "new-api-spurious-results" in faults:
        args.places_api = "new"  # a fault of the New-API code path only
    log.info("Places API: %s; peer message format: %s", args.places_api, args.peer_format)
    server = Server(
        args.name, host, port, peers, places_url, api_key, faults, log,
        places_api=args.places_api, peer_format=args.peer_format,
    )
    runner = asyncio.run
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            parser.error("--loop uvloop needs the uvloop package: pip install -r python/requirements.txt")
        runner = uvloop.run
    log.info("event loop: %s", args.loop)
    try:
        runner(server.run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
