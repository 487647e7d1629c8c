#!/usr/bin/env node
// Proxy-herd server in Node.js (the "Node target"): protocol.md without faults, no npm
// dependencies. The same command line as python/herd_server.py:
//
//   node node/herd_server.js NAME --herd FILE.toml [--port P] [--places-url URL]
//        [--places-api legacy|new] [--log-dir DIR]
//
// Design, where it differs from the Python target: each server keeps one persistent TCP link
// per neighbour (opened on first use, opened again after a failure) instead of one connection
// per flood message; lines are handled as latin1 strings so every byte round-trips; times are
// BigInt nanoseconds so differences are exact.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { isUtf8 } = require('node:buffer');

const GOOGLE_PLACES_URL = 'https://maps.googleapis.com';
const PLACES_TIMEOUT_MS = 5000;
const PEER_CONNECT_TIMEOUT_MS = 3000;
const MAX_LINE_BYTES = 1 << 20; // a longer line is answered as invalid and the rest skipped
const NEW_API_PATH = '/v1/places:searchNearby';
const NEW_API_FIELD_MASK =
  'places.displayName,places.formattedAddress,places.location,places.id,places.types';
const NEW_API_MAX_RESULTS = 20;

// Operand grammar (ASCII digits only; strings are latin1, one char per byte).
const RE_POSITION = /^([+-])([0-9]+(?:\.[0-9]+)?)([+-])([0-9]+(?:\.[0-9]+)?)$/;
const RE_TIME = /^([0-9]+)(?:\.([0-9]{1,9}))?$/;
const RE_RADIUS = /^[0-9]+(?:\.[0-9]+)?$/;
const RE_BOUND = /^[0-9]+$/;
// Lenient for peer messages: relay a peer's AT line as it wrote it.
const RE_DIFF = /^[+-]{0,2}[0-9]+(?:\.[0-9]+)?$/;
// protocol.md §1: space, tab, CR, LF, FF, VT.
const RE_SPACE = /[ \t\r\n\f\v]+/;
const RE_TRIM = /^[ \t\r\n\f\v]+|[ \t\r\n\f\v]+$/g;

// ---------------------------------------------------------------------------
// Exact decimal helpers on digit strings.

/** Compares two non-negative decimal texts `int[.frac]` exactly: -1, 0 or 1. */
function compareDecimal(a, b) {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  const x = ai.replace(/^0+/, '');
  const y = bi.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  if (x !== y) return x < y ? -1 : 1;
  const n = Math.max(af.length, bf.length);
  const p = af.padEnd(n, '0');
  const q = bf.padEnd(n, '0');
  return p === q ? 0 : p < q ? -1 : 1;
}

/** (lat, lng) texts without a leading '+', or null when invalid or out of range. */
function parsePosition(pos) {
  const m = RE_POSITION.exec(pos);
  if (!m) return null;
  if (compareDecimal(m[2], '90') > 0 || compareDecimal(m[4], '180') > 0) return null;
  return [(m[1] === '-' ? '-' : '') + m[2], (m[3] === '-' ? '-' : '') + m[4]];
}

/** Client time as BigInt nanoseconds, or null. */
function parseTimeNs(t) {
  const m = RE_TIME.exec(t);
  if (!m) return null;
  return BigInt(m[1]) * 1000000000n + BigInt((m[2] || '').padEnd(9, '0'));
}

function formatDiffNs(diff) {
  const sign = diff >= 0n ? '+' : '-';
  const a = diff >= 0n ? diff : -diff;
  return `${sign}${a / 1000000000n}.${(a % 1000000000n).toString().padStart(9, '0')}`;
}

/** radius_km × 1000 as the shortest exact decimal (10 -> 10000, 0.0015 -> 1.5). */
function metresText(radius) {
  const [int, frac = ''] = radius.split('.');
  const f = frac.padEnd(3, '0');
  let whole = (int + f.slice(0, 3)).replace(/^0+/, '') || '0';
  const rest = f.slice(3).replace(/0+$/, '');
  return rest ? `${whole}.${rest}` : whole;
}

/** Wall-clock nanoseconds since the epoch, with the monotonic clock's resolution. */
const EPOCH_OFFSET_NS = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();
function nowNs() {
  return EPOCH_OFFSET_NS + process.hrtime.bigint();
}

// ---------------------------------------------------------------------------
// JSON that keeps every number's text, rendered in Google's layout.

/** A JSON number kept as the text Places sent. */
class RawNumber {
  constructor(text) {
    this.text = text;
  }
}

/** Parses JSON text; numbers become RawNumber. Throws SyntaxError on bad input. */
function parseJsonRaw(text) {
  let i = 0;
  const fail = (what) => {
    throw new SyntaxError(`${what} at offset ${i}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj = new Map();
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj.set(key, value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    m.lastIndex = i;
    const n = m.exec(text);
    if (!n) fail('unexpected character');
    i += n[0].length;
    return new RawNumber(n[0]);
  };
  const string = () => {
    const m = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
    m.lastIndex = i;
    const s = m.exec(text);
    if (!s) fail('bad string');
    i += s[0].length;
    return JSON.parse(s[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

function scalar(v) {
  if (v instanceof RawNumber) return v.text;
  return JSON.stringify(v);
}

/** Google's layout: 3-space indent, `"key" : value`, arrays of scalars on one line. */
function googleLayout(v, level = 0) {
  const pad = '   '.repeat(level + 1);
  const end = '   '.repeat(level);
  if (v instanceof Map) {
    if (v.size === 0) return '{}';
    const items = [...v].map(([k, x]) => `${pad}${JSON.stringify(k)} : ${googleLayout(x, level + 1)}`);
    return `{\n${items.join(',\n')}\n${end}}`;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every((x) => !(x instanceof Map) && !Array.isArray(x))) {
      return `[ ${v.map(scalar).join(', ')} ]`;
    }
    return `[\n${v.map((x) => pad + googleLayout(x, level + 1)).join(',\n')}\n${end}]`;
  }
  return scalar(v);
}

/** Runs of newlines become one; trailing newlines go (protocol.md §3). */
function squeeze(text) {
  return text.replace(/\n{2,}/g, '\n').replace(/\n+$/, '');
}

// ---------------------------------------------------------------------------
// Log: DIR/NAME.log, UTC timestamps, buffered so logging stays off the request path.

function makeLogger(dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  const out = fs.createWriteStream(path.join(dir, `${name}.log`), { flags: 'a' });
  return (message) => out.write(`${new Date().toISOString()} herd.${name} ${message}\n`);
}

/** A line (latin1 string) as the log shows it: printable ASCII kept, the rest escaped. */
function shown(text) {
  return JSON.stringify(text).replace(/[\u0080-\u00ff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
}

// ---------------------------------------------------------------------------
// Neighbour links: one persistent connection per neighbour.

class PeerLink {
  constructor(owner, name, host, port) {
    Object.assign(this, { owner, name, host, port });
    this.socket = null;
    this.ready = false;
    this.pending = []; // messages written while the connection is being opened
  }

  send(message) {
    if (this.socket && this.ready) {
      this.socket.write(message);
      return;
    }
    this.pending.push(message);
    if (!this.socket) this.open();
  }

  open() {
    const log = this.owner.log;
    const socket = net.connect({ host: this.host, port: this.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(PEER_CONNECT_TIMEOUT_MS);
    socket.on('connect', () => {
      socket.setTimeout(0);
      this.ready = true;
      log(`new connection to ${this.name} (${this.host}:${this.port})`);
      for (const m of this.pending) socket.write(m);
      this.pending = [];
    });
    // Whatever a neighbour writes back (nothing, for a correct one) is read and dropped.
    socket.on('data', () => {});
    socket.on('timeout', () => socket.destroy(new Error('connect timed out')));
    const down = (why) => {
      if (this.socket !== socket) return;
      log(`dropped connection to ${this.name} (${this.host}:${this.port}): ${why}`);
      // Updates made while a neighbour is down need not be replayed (protocol.md §5).
      this.socket = null;
      this.ready = false;
      this.pending = [];
    };
    socket.on('error', (e) => down(e.message));
    socket.on('end', () => {
      down('closed by the neighbour');
      socket.destroy();
    });
    socket.on('close', () => down('closed'));
  }
}

// ---------------------------------------------------------------------------
// The server.

class Server {
  constructor({ name, host, port, peers, placesUrl, apiKey, placesApi, log }) {
    Object.assign(this, { name, host, port, placesUrl, apiKey, placesApi, log });
    this.peers = peers.map(([n, h, p]) => new PeerLink(this, n, h, p));
    this.clients = new Map(); // client ID -> { timeNs, line, pos }
  }

  listen() {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.connection(s));
    server.on('error', (e) => {
      process.stderr.write(`${this.name}: cannot listen on ${this.host}:${this.port}: ${e.message}\n`);
      process.exit(1);
    });
    server.listen(this.port, this.host, () => {
      const a = server.address();
      this.log(`server ${this.name} listening on ${a.address}:${a.port}; neighbours: ${this.peers.map((p) => p.name).join(', ') || '-'}`);
      process.stderr.write(`${this.name} listening on ${a.address}:${a.port}\n`);
    });
  }

  /** One client or neighbour connection: lines answered in order, closed after the EOF. */
  connection(socket) {
    const who = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log(`connection from ${who}`);
    let buf = Buffer.alloc(0);
    let skipping = false; // inside the tail of an over-long line
    let ended = false;
    const queue = []; // [line (latin1), terminated]
    let busy = false;

    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        while (queue.length > 0) {
          const [line, terminated] = queue.shift();
          const out = await this.process(line, terminated);
          if (out !== null && !socket.destroyed) {
            socket.write(out);
            this.log(`OUT ${shown(out.toString('latin1'))}`);
          }
        }
        if (ended && !socket.destroyed) {
          this.log(`client ${who} closed its side; closing`);
          socket.end();
        }
      } catch (e) {
        this.log(`handler for ${who} failed: ${e && e.stack}; dropping connection`);
        socket.destroy();
      } finally {
        busy = false;
      }
    };

    socket.on('data', (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let start = 0;
      let nl;
      while ((nl = buf.indexOf(10, start)) >= 0) {
        if (skipping) skipping = false;
        else queue.push([buf.toString('latin1', start, nl), true]);
        start = nl + 1;
      }
      buf = start === 0 ? buf : buf.subarray(start);
      if (skipping) {
        buf = Buffer.alloc(0);
      } else if (buf.length > MAX_LINE_BYTES) {
        // Over-long line: answer it as invalid now, drop the rest of it.
        queue.push([buf.toString('latin1'), false]);
        buf = Buffer.alloc(0);
        skipping = true;
      }
      pump();
    });
    socket.on('end', () => {
      if (buf.length > 0 && !skipping) queue.push([buf.toString('latin1'), false]);
      buf = Buffer.alloc(0);
      ended = true;
      pump();
    });
    socket.on('error', (e) => this.log(`connection from ${who}: ${e.message}`));
  }

  /** The reply to one line (a Buffer), or null for none. */
  async process(raw, terminated) {
    const stripped = raw.replace(RE_TRIM, '');
    if (!stripped) return null;
    this.log(`IN  ${shown(raw)}`);
    if (!isUtf8(Buffer.from(raw, 'latin1'))) return this.invalid(stripped);
    const fields = stripped.split(RE_SPACE);
    const cmd = fields[0];
    if (cmd === 'IAMAT' && fields.length === 4) return this.iamat(fields, stripped);
    if (cmd === 'WHATSAT' && fields.length === 4) return this.whatsat(fields, stripped);
    if (cmd === 'AT' && fields.length === 7) return this.floodIn(fields, stripped);
    void terminated;
    return this.invalid(stripped);
  }

  invalid(stripped) {
    return Buffer.from(`? ${stripped}\n`, 'latin1');
  }

  iamat(fields, stripped) {
    const now = nowNs();
    const [, cid, pos, ctime] = fields;
    const timeNs = parseTimeNs(ctime);
    if (parsePosition(pos) === null || timeNs === null) return this.invalid(stripped);
    const line = `AT ${this.name} ${formatDiffNs(now - timeNs)} ${cid} ${pos} ${ctime}`;
    const rec = { timeNs, line, pos };
    if (this.store(cid, rec)) this.flood(rec, null);
    return Buffer.from(`${line}\n`, 'latin1');
  }

  /** Stores `rec` if it is newer than what is held; returns whether it was. */
  store(cid, rec) {
    const old = this.clients.get(cid);
    const newer =
      old === undefined || (rec.timeNs !== old.timeNs ? rec.timeNs > old.timeNs : rec.line > old.line);
    if (newer) {
      this.clients.set(cid, rec);
      this.log(`stored ${shown(rec.line)}`);
    }
    return newer;
  }

  /** A neighbour's `AT NAME DIFF ID POS TIME SENDER`: stored and passed on if newer; no reply. */
  floodIn(fields, stripped) {
    const [, , diff, cid, pos, ctime, sender] = fields;
    const timeNs = parseTimeNs(ctime);
    if (!RE_DIFF.test(diff) || parsePosition(pos) === null || timeNs === null) {
      return this.invalid(stripped);
    }
    this.log(`update from peer ${sender}`);
    const rec = { timeNs, line: fields.slice(0, 6).join(' '), pos };
    if (this.store(cid, rec)) this.flood(rec, sender);
    return null;
  }

  flood(rec, exclude) {
    const message = Buffer.from(`${rec.line} ${this.name}\n`, 'latin1');
    for (const peer of this.peers) {
      if (peer.name === exclude) continue;
      this.log(`OUT to ${peer.name} ${shown(rec.line)}`);
      peer.send(message);
    }
  }

  async whatsat(fields, stripped) {
    const [, cid, radius, bound] = fields;
    if (!RE_RADIUS.test(radius) || !RE_BOUND.test(bound)) return this.invalid(stripped);
    if (compareDecimal(radius, '0') <= 0 || compareDecimal(radius, '50') > 0) return this.invalid(stripped);
    if (compareDecimal(bound, '20') > 0) return this.invalid(stripped);
    const rec = this.clients.get(cid);
    if (rec === undefined) return this.invalid(stripped);
    const [lat, lng] = parsePosition(rec.pos);
    const n = Number(bound);
    const body =
      this.placesApi === 'new'
        ? await this.placesNew(lat, lng, metresText(radius), n)
        : await this.placesLegacy(lat, lng, metresText(radius), n);
    return Buffer.concat([Buffer.from(`${rec.line}\n`, 'latin1'), Buffer.from(`${body}\n\n`, 'utf8')]);
  }

  async placesLegacy(lat, lng, metres, bound) {
    const url =
      `${this.placesUrl}/maps/api/place/nearbysearch/json?location=${lat},${lng}` +
      `&radius=${metres}&key=${encodeURIComponent(this.apiKey)}`;
    this.log(`Places GET ${this.apiKey ? url.replace(encodeURIComponent(this.apiKey), '<key>') : url}`);
    let obj;
    try {
      const resp = await fetch(url, { signal: AbortSignal.timeout(PLACES_TIMEOUT_MS) });
      const text = await resp.text();
      if (resp.status < 200 || resp.status > 299) return this.placesError(`Places HTTP status ${resp.status}`);
      try {
        obj = parseJsonRaw(text);
      } catch (e) {
        return this.placesError(`Places answer is not JSON: ${e.message}`);
      }
    } catch (e) {
      return this.placesError(placesFailure(e));
    }
    if (!(obj instanceof Map)) return this.placesError('Places answer is not a JSON object');
    const results = obj.get('results');
    if (Array.isArray(results)) obj.set('results', results.slice(0, bound));
    return squeeze(googleLayout(obj));
  }

  placesError(message) {
    this.log(`Places failure: ${message}`);
    const obj = new Map([
      ['html_attributions', []],
      ['results', []],
      ['status', 'UNKNOWN_ERROR'],
      ['error_message', message],
    ]);
    return squeeze(googleLayout(obj));
  }

  /** Places API (New) searchNearby; `places` cut to the bound, as JSON with a 3-space indent. */
  async placesNew(lat, lng, metres, bound) {
    const request = {
      maxResultCount: Math.min(Math.max(bound, 1), NEW_API_MAX_RESULTS),
      locationRestriction: {
        circle: { center: { latitude: Number(lat), longitude: Number(lng) }, radius: Number(metres) },
      },
    };
    const data = JSON.stringify(request);
    this.log(`Places POST ${this.placesUrl}${NEW_API_PATH} ${data}`);
    let status;
    let text;
    try {
      const resp = await fetch(this.placesUrl + NEW_API_PATH, {
        method: 'POST',
        body: data,
        headers: {
          'Content-Type': 'application/json',
          'X-Goog-Api-Key': this.apiKey,
          'X-Goog-FieldMask': NEW_API_FIELD_MASK,
        },
        signal: AbortSignal.timeout(PLACES_TIMEOUT_MS),
      });
      status = resp.status;
      text = await resp.text();
    } catch (e) {
      const timedOut = e && (e.name === 'TimeoutError' || e.name === 'AbortError');
      return this.newApiError(timedOut ? 504 : 503, placesFailure(e), timedOut ? 'DEADLINE_EXCEEDED' : 'UNAVAILABLE');
    }
    let obj = null;
    try {
      obj = JSON.parse(text);
    } catch {
      obj = null;
    }
    const ok = status >= 200 && status <= 299;
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      return this.newApiError(ok ? 502 : status, `Places HTTP status ${status}, answer is not a JSON object`, 'INTERNAL');
    }
    if (ok && Array.isArray(obj.places)) obj.places = obj.places.slice(0, bound);
    if (!ok) this.log(`Places failure: HTTP status ${status}`);
    return squeeze(JSON.stringify(obj, null, 3));
  }

  newApiError(code, message, status) {
    this.log(`Places failure: ${message}`);
    return squeeze(JSON.stringify({ error: { code, message, status } }, null, 3));
  }
}

function placesFailure(e) {
  if (e && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
    return `Places request timed out after ${PLACES_TIMEOUT_MS / 1000} s`;
  }
  const cause = e && e.cause && e.cause.message ? ` (${e.cause.message})` : '';
  return `Places request failed: ${e && e.name}: ${e && e.message}${cause}`;
}

// ---------------------------------------------------------------------------
// Herd file (the TOML subset herd files use) and command line.

/** [{name, address, neighbours}] from a herd file: `[[server]]` tables of strings and string arrays. */
function parseHerdToml(text, file) {
  const servers = [];
  let current = null;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = stripComment(lines[n]).trim();
    if (!line) continue;
    if (line === '[[server]]') {
      current = {};
      servers.push(current);
      continue;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.*)$/.exec(line);
    if (!m || current === null) throw new Error(`${file}:${n + 1}: cannot read \`${line}\``);
    let value = m[2];
    // An array may span lines.
    while (value.startsWith('[') && !value.endsWith(']') && n + 1 < lines.length) {
      value += ` ${stripComment(lines[++n]).trim()}`;
    }
    try {
      current[m[1]] = JSON.parse(value.replace(/,\s*\]$/, ']'));
    } catch {
      throw new Error(`${file}:${n + 1}: \`${m[1]}\` is not a string or an array of strings`);
    }
  }
  return servers;
}

function stripComment(line) {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"' && line[i - 1] !== '\\') inString = !inString;
    if (line[i] === '#' && !inString) return line.slice(0, i);
  }
  return line;
}

function splitAddress(addr) {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = addr.slice(i + 1);
  if (i <= 0 || !/^[0-9]+$/.test(port)) throw new Error(`bad address "${addr}" (want HOST:PORT)`);
  return [host, Number(port)];
}

/** {name: [host, port]} and {name: Set(neighbours)}, links made bidirectional. */
function loadHerd(file) {
  const servers = parseHerdToml(fs.readFileSync(file, 'utf8'), file);
  if (servers.length === 0) throw new Error(`${file}: no [[server]] entries`);
  const addrs = new Map();
  const links = new Map();
  for (const s of servers) {
    if (typeof s.name !== 'string' || typeof s.address !== 'string') {
      throw new Error(`${file}: every [[server]] needs a name and an address`);
    }
    addrs.set(s.name, splitAddress(s.address));
    links.set(s.name, new Set());
  }
  for (const s of servers) {
    for (const n of s.neighbours || []) {
      if (!addrs.has(n)) throw new Error(`${file}: ${s.name} names unknown neighbour "${n}"`);
      if (n !== s.name) {
        links.get(s.name).add(n);
        links.get(n).add(s.name);
      }
    }
  }
  return { addrs, links };
}

const USAGE = `usage: herd_server.js NAME --herd FILE.toml [--port P] [--places-url URL]
                      [--places-api legacy|new] [--log-dir DIR]

Proxy-herd server (Node.js target), correct per protocol.md.

  NAME                 this server's name in the herd file
  --herd FILE.toml     herd file ([[server]] name/address/neighbours)
  --port P             listen on 127.0.0.1:P instead of the herd file's address
  --places-url URL     Places API base URL (default: $HERD_PLACES_URL or ${GOOGLE_PLACES_URL});
                       key from $GOOGLE_PLACES_API_KEY
  --places-api API     legacy Nearby Search (default) or new (Places API (New) searchNearby)
  --log-dir DIR        log to DIR/NAME.log (default: ./logs)`;

function usageError(message) {
  process.stderr.write(`${USAGE}\nherd_server.js: error: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    herd: null,
    port: null,
    placesUrl: process.env.HERD_PLACES_URL || GOOGLE_PLACES_URL,
    placesApi: 'legacy',
    logDir: 'logs',
  };
  const names = { '--herd': 'herd', '--port': 'port', '--places-url': 'placesUrl', '--places-api': 'placesApi', '--log-dir': 'logDir' };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    if (arg in names) {
      if (value === undefined) {
        if (i + 1 >= argv.length) usageError(`${arg} needs a value`);
        value = argv[++i];
      }
      opts[names[arg]] = value;
    } else if (arg.startsWith('-')) {
      usageError(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  if (positional.length !== 1) usageError('give exactly one NAME');
  if (opts.herd === null) usageError('--herd FILE.toml is required');
  if (opts.port !== null) {
    if (!/^[0-9]+$/.test(opts.port) || Number(opts.port) > 65535) usageError(`--port ${opts.port} is not a port number`);
    opts.port = Number(opts.port);
  }
  if (!['legacy', 'new'].includes(opts.placesApi)) usageError(`--places-api must be legacy or new, not ${opts.placesApi}`);
  opts.name = positional[0];
  return opts;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  let herd;
  try {
    herd = loadHerd(opts.herd);
  } catch (e) {
    usageError(`cannot read herd file: ${e.message}`);
  }
  if (!herd.addrs.has(opts.name)) {
    usageError(`server "${opts.name}" is not in ${opts.herd} (servers: ${[...herd.addrs.keys()].join(', ')})`);
  }
  let [host, port] = herd.addrs.get(opts.name);
  if (opts.port !== null) [host, port] = ['127.0.0.1', opts.port];
  const placesUrl = opts.placesUrl.replace(/\/+$/, '');
  let apiKey = process.env.GOOGLE_PLACES_API_KEY;
  if (apiKey === undefined) {
    if (placesUrl === GOOGLE_PLACES_URL) {
      process.stderr.write('warning: GOOGLE_PLACES_API_KEY is not set\n');
      apiKey = '';
    } else {
      apiKey = 'test-key';
    }
  }
  const log = makeLogger(opts.logDir, opts.name);
  log(`starting (Node ${process.version}); Places API: ${opts.placesApi}`);
  const peers = [...herd.links.get(opts.name)].sort().map((n) => [n, ...herd.addrs.get(n)]);
  new Server({ name: opts.name, host, port, peers, placesUrl, apiKey, placesApi: opts.placesApi, log }).listen();
}

if (require.main === module) main();

module.exports = { compareDecimal, parsePosition, parseTimeNs, formatDiffNs, metresText, parseJsonRaw, googleLayout, squeeze, parseHerdToml };
