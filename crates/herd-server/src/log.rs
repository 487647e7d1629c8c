//! A server's log file, written by a thread of its own so that no client reply waits on disk
//! or on formatting.
//!
//! Each line is `2026-11-21T23:00:00.123456Z <text>`; the time is taken when the event happens.
//! Events travel to the writer unformatted ([`Entry`]: the request's bytes, the reply already
//! sent, the shared AT line), so the request path pays one queue send per event and no
//! formatting. The queue is bounded: when the disk cannot keep up, lines are dropped and the
//! number dropped is logged once it can, so memory stays bounded under any load.
//!
//! A log cannot be used against the server or its reader: every event is one line; every field
//! taken from the wire is cut to [`FIELD_BOUND`] bytes with `…(+N bytes)`; control, bidi and
//! line-separator characters are escaped, and so are invalid UTF-8 bytes (`\xNN`, byte-exactly)
//! and the backslash itself, so two different inputs never log alike. The file rotates by size
//! ([`LogRotation`]).

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use herd_wire::AtLine;
use herd_wire::fields::bytes_below;

const QUEUE_LINES: usize = 65_536;

/// The most bytes of one wire field (a request, a reply line, an update) a log line shows;
/// the rest is counted, not shown. Above the longest valid line with a 1 KiB client ID.
pub const FIELD_BOUND: usize = 2048;

/// Size-based rotation: `NAME.log` is renamed `NAME.log.1` (and `.1` to `.2`, …) before a line
/// would take it past `max_size` bytes; at most `keep` old files are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRotation {
    /// Largest size of one log file in bytes; 0 never rotates.
    pub max_size: u64,
    /// Rotated files kept beside the live one (0: the live file is simply started afresh).
    pub keep: usize,
}

impl LogRotation {
    /// 64 MiB.
    pub const DEFAULT_MAX_SIZE: u64 = 64 << 20;
    pub const DEFAULT_KEEP: usize = 5;
}

impl Default for LogRotation {
    fn default() -> Self {
        LogRotation {
            max_size: Self::DEFAULT_MAX_SIZE,
            keep: Self::DEFAULT_KEEP,
        }
    }
}

/// Who is on the other end of a connection, as the log names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    Client(SocketAddr),
    /// A neighbour, by its name as the log shows it (escaped once, when its link opened).
    Peer(Arc<str>),
}

/// One event, as the writer receives it.
#[derive(Debug)]
pub enum Entry {
    /// A composed line (rare events: links, Places calls, start-up). Escaped like any field.
    Text(String),
    /// A request and the reply sent to it: an `in` line and an `out` line. Only the reply's first
    /// line is shown; the bytes after it are counted as Places JSON.
    Exchange {
        who: Who,
        request: BytesMut,
        /// Why the request was invalid, for an `? ` reply.
        invalid: Option<String>,
        reply: Vec<u8>,
    },
    /// An input line that got no reply, with what became of it (a peer's update, a handshake).
    Input {
        who: Who,
        line: BytesMut,
        verdict: Cow<'static, str>,
    },
    /// Updates written to a neighbour's link: one `flood to` line each.
    Flood {
        /// The neighbour's name as the log shows it (escaped once, when the link task started).
        to: Arc<str>,
        updates: Vec<Arc<AtLine>>,
    },
}

/// A handle for writing to one server's log; cheap to clone.
#[derive(Clone, Debug)]
pub struct ServerLog {
    /// `None` for a log that writes nowhere.
    queue: Option<SyncSender<(SystemTime, Entry)>>,
    dropped: Arc<AtomicU64>,
}

/// Renders bytes from the wire for a log line: escaped and bounded as described above.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().min(FIELD_BOUND) + 16);
    escape_into(&mut out, bytes, FIELD_BOUND);
    // Escaping leaves only ASCII and whole, valid characters.
    String::from_utf8(out).unwrap_or_default()
}

/// True for the characters written as `\u{…}`: C1 controls, the bidi embeddings, overrides and
/// isolates, the implicit direction marks, the line and paragraph separators, and `…` (so that
/// the cut marker cannot be forged).
fn is_escaped_char(c: char) -> bool {
    matches!(c,
        '\u{80}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}' | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{2026}'
        | '\u{feff}')
}

/// Appends `bytes` to `out` escaped, showing at most `bound` input bytes (cut at a character
/// boundary) followed by `…(+N bytes)` for the rest.
pub fn escape_into(out: &mut Vec<u8>, bytes: &[u8], bound: usize) {
    escape_with(out, bytes, bound, true);
}

/// Eight bytes at a time, true when any of them may need escaping (a control, a byte at or above
/// 0x7f, or a backslash): the classic "has a byte less than / equal to" word tricks. It may say
/// true for a plain word after a 0xff byte's carry, never false for a word that needs escaping.
fn word_needs_escape(word: u64, backslash: bool) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let below_space = bytes_below(word, 0x20);
    let high_or_del = (word | word.wrapping_add(ONES)) & HIGH;
    // A backslash is a zero byte once every byte is xored with it.
    let has_slash = bytes_below(word ^ (ONES * u64::from(b'\\')), 1);
    below_space | high_or_del | if backslash { has_slash } else { 0 } != 0
}

/// How many bytes at the start of `bytes` are printable ASCII that is shown as is.
fn plain_prefix(bytes: &[u8], backslash: bool) -> usize {
    let plain_byte = |b: u8| (0x20..0x7f).contains(&b) && !(backslash && b == b'\\');
    let mut at = 0;
    for chunk in bytes.chunks_exact(8) {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
        if word_needs_escape(word, backslash) {
            break;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|b| !plain_byte(*b))
        .unwrap_or(bytes.len() - at)
}

fn escape_with(out: &mut Vec<u8>, bytes: &[u8], bound: usize, backslash: bool) {
    let mut rest = bytes;
    let mut shown = 0;
    while !rest.is_empty() {
        // The common case: a run of printable ASCII, copied at once.
        let plain = plain_prefix(rest, backslash);
        let take = plain.min(bound - shown);
        out.extend_from_slice(&rest[..take]);
        shown += take;
        rest = &rest[take..];
        if rest.is_empty() || shown == bound {
            break;
        }
        let first = rest[0];
        let used = match first {
            b'\\' => {
                out.extend_from_slice(b"\\\\");
                1
            }
            b'\n' => {
                out.extend_from_slice(b"\\n");
                1
            }
            b'\r' => {
                out.extend_from_slice(b"\\r");
                1
            }
            b'\t' => {
                out.extend_from_slice(b"\\t");
                1
            }
            0..0x80 => {
                push_hex_byte(out, first);
                1
            }
            _ => escape_non_ascii(out, rest, bound - shown),
        };
        if used == 0 {
            break;
        }
        shown += used;
        rest = &rest[used..];
    }
    if !rest.is_empty() {
        out.extend_from_slice("…(+".as_bytes());
        push_u64(out, rest.len() as u64);
        out.extend_from_slice(b" bytes)");
    }
}

/// Escapes the character (or invalid byte) at the start of `rest`; returns the input bytes used,
/// 0 when the character does not fit in `room`.
fn escape_non_ascii(out: &mut Vec<u8>, rest: &[u8], room: usize) -> usize {
    let head = &rest[..rest.len().min(4)];
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
    };
    let Some(c) = valid.chars().next() else {
        push_hex_byte(out, rest[0]);
        return 1;
    };
    let len = c.len_utf8();
    if len > room {
        return 0;
    }
    if is_escaped_char(c) {
        out.extend_from_slice(b"\\u{");
        let code = u32::from(c);
        let digits = if code > 0xffff { 5 } else { 4 };
        for shift in (0..digits).rev() {
            out.push(HEX[((code >> (4 * shift)) & 15) as usize]);
        }
        out.push(b'}');
    } else {
        out.extend_from_slice(&rest[..len]);
    }
    len
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex_byte(out: &mut Vec<u8>, byte: u8) {
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(byte >> 4)],
        HEX[usize::from(byte & 15)],
    ]);
}

/// Decimal digits without the formatting machinery (this runs for every logged address).
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn push_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let start = out.len();
    push_u64(out, n);
    let len = out.len() - start;
    if len < width {
        out.splice(start..start, std::iter::repeat_n(b'0', width - len));
    }
}

fn push_who(out: &mut Vec<u8>, who: &Who) {
    match who {
        Who::Client(SocketAddr::V4(address)) => {
            out.extend_from_slice(b"client ");
            for (i, octet) in address.ip().octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, u64::from(*octet));
            }
            out.push(b':');
            push_u64(out, u64::from(address.port()));
        }
        Who::Client(address) => {
            out.extend_from_slice(b"client ");
            out.extend_from_slice(address.to_string().as_bytes());
        }
        Who::Peer(shown) => {
            out.extend_from_slice(b"peer ");
            out.extend_from_slice(shown.as_bytes());
        }
    }
}

/// `00` to `99`, for writing numbers two digits at a time.
const TWO_DIGITS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut n = 0;
    while n < 100 {
        pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    pairs
};

/// Formats `YYYY-MM-DDTHH:MM:SS.` once per second; the microseconds are appended per line.
#[derive(Default)]
struct Clock {
    second: Option<u64>,
    prefix: Vec<u8>,
}

impl Clock {
    fn stamp(&mut self, out: &mut Vec<u8>, at: SystemTime) {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let second = since.as_secs();
        if self.second != Some(second) {
            self.second = Some(second);
            self.prefix.clear();
            let secs = i64::try_from(second).unwrap_or(i64::MAX);
            match time::OffsetDateTime::from_unix_timestamp(secs) {
                Ok(t) => {
                    push_padded(&mut self.prefix, u64::try_from(t.year()).unwrap_or(0), 4);
                    for (sep, n) in [
                        (b'-', u8::from(t.month())),
                        (b'-', t.day()),
                        (b'T', t.hour()),
                        (b':', t.minute()),
                        (b':', t.second()),
                    ] {
                        self.prefix.push(sep);
                        push_padded(&mut self.prefix, u64::from(n), 2);
                    }
                    self.prefix.push(b'.');
                }
                Err(_) => self.prefix.extend_from_slice(b"-."),
            }
        }
        out.extend_from_slice(&self.prefix);
        // Two digits at a time: every log line has a stamp.
        let micros = since.subsec_micros() as usize;
        let mut digits = *b"000000Z ";
        digits[0..2].copy_from_slice(&TWO_DIGITS[micros / 10_000 % 100]);
        digits[2..4].copy_from_slice(&TWO_DIGITS[micros / 100 % 100]);
        digits[4..6].copy_from_slice(&TWO_DIGITS[micros % 100]);
        out.extend_from_slice(&digits);
    }
}

/// Renders one entry as its log lines (each ending in `\n`).
fn render(out: &mut Vec<u8>, clock: &mut Clock, at: SystemTime, entry: &Entry) {
    match entry {
        Entry::Text(text) => {
            clock.stamp(out, at);
            escape_text(out, text.as_bytes());
            out.push(b'\n');
        }
        Entry::Exchange {
            who,
            request,
            invalid,
            reply,
        } => {
            clock.stamp(out, at);
            out.extend_from_slice(b"in ");
            push_who(out, who);
            out.extend_from_slice(b": ");
            escape_into(out, request, FIELD_BOUND);
            if let Some(why) = invalid {
                out.extend_from_slice(b" (invalid: ");
                escape_text(out, why.as_bytes());
                out.push(b')');
            }
            out.push(b'\n');
            clock.stamp(out, at);
            out.extend_from_slice(b"out ");
            push_who(out, who);
            out.extend_from_slice(b": ");
            let first = reply
                .iter()
                .position(|b| *b == b'\n')
                .unwrap_or(reply.len());
            escape_into(out, &reply[..first], FIELD_BOUND);
            let json = reply.len().saturating_sub(first + 1);
            if json > 0 {
                out.extend_from_slice(b" (+");
                push_u64(out, json as u64);
                out.extend_from_slice(b" bytes of Places JSON)");
            }
            out.push(b'\n');
        }
        Entry::Input { who, line, verdict } => {
            clock.stamp(out, at);
            out.extend_from_slice(b"in ");
            push_who(out, who);
            out.extend_from_slice(b": ");
            escape_into(out, line, FIELD_BOUND);
            out.extend_from_slice(b" (");
            escape_text(out, verdict.as_bytes());
            out.extend_from_slice(b")\n");
        }
        Entry::Flood { to, updates } => {
            for update in updates {
                clock.stamp(out, at);
                out.extend_from_slice(b"flood to ");
                out.extend_from_slice(to.as_bytes());
                out.extend_from_slice(b": ");
                escape_into(out, update.as_bytes(), FIELD_BOUND);
                out.push(b'\n');
            }
        }
    }
}

/// A composed line: its fields were made printable by whoever composed it, so the backslashes
/// in it are theirs; anything that would break the line is still escaped. Bounded as a whole.
fn escape_text(out: &mut Vec<u8>, text: &[u8]) {
    escape_with(out, text, 4 * FIELD_BOUND, false);
}

/// How long the writer rests after each batch. Resting lets lines pile up, so that under load a
/// busy server does not pay a thread wake-up per log line.
const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// The open log file and what rotating it needs.
struct LogFile {
    path: PathBuf,
    out: std::io::BufWriter<File>,
    written: u64,
    rotation: LogRotation,
}

impl LogFile {
    fn open(path: PathBuf, rotation: LogRotation) -> std::io::Result<LogFile> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogFile {
            path,
            out: std::io::BufWriter::with_capacity(64 * 1024, file),
            written,
            rotation,
        })
    }

    /// Writes one rendered entry, rotating first if it would take the file past its size.
    fn write(&mut self, lines: &[u8]) -> std::io::Result<()> {
        let len = lines.len() as u64;
        let max = self.rotation.max_size;
        if max > 0 && self.written > 0 && self.written + len > max {
            self.rotate()?;
        }
        self.out.write_all(lines)?;
        self.written += len;
        Ok(())
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        let keep = self.rotation.keep;
        if keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            // The oldest goes; the others move up one; the live file becomes `.1`.
            let _ = std::fs::remove_file(self.numbered(keep));
            for n in (1..keep).rev() {
                match std::fs::rename(self.numbered(n), self.numbered(n + 1)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, self.numbered(1))?;
        }
        *self = LogFile::open(self.path.clone(), self.rotation)?;
        self.written = 0;
        Ok(())
    }
}

/// The writer thread: drains the queue in batches, one flush per batch.
fn write_lines(mut file: LogFile, lines: Receiver<(SystemTime, Entry)>) {
    let mut clock = Clock::default();
    let mut rendered = Vec::with_capacity(4096);
    while let Ok(first) = lines.recv() {
        let mut result = Ok(());
        for (at, entry) in
            std::iter::once(first).chain(std::iter::from_fn(|| lines.try_recv().ok()))
        {
            rendered.clear();
            render(&mut rendered, &mut clock, at, &entry);
            result = result.and_then(|()| file.write(&rendered));
            // The entry (and the request and reply buffers it holds) is freed here, off the
            // request path.
            drop(entry);
        }
        if let Err(e) = result.and_then(|()| file.out.flush()) {
            eprintln!(
                "herd-server: cannot write its log {}: {e}; logging stops",
                file.path.display()
            );
            return;
        }
        std::thread::sleep(BATCH_PAUSE);
    }
}

impl ServerLog {
    /// Opens (appending) `dir/NAME.log` and starts its writer thread.
    pub async fn open(dir: &Path, name: &str) -> std::io::Result<(ServerLog, PathBuf)> {
        Self::open_rotated(dir, name, LogRotation::default()).await
    }

    /// Like [`ServerLog::open`], rotating as `rotation` says.
    pub async fn open_rotated(
        dir: &Path,
        name: &str,
        rotation: LogRotation,
    ) -> std::io::Result<(ServerLog, PathBuf)> {
        tokio::fs::create_dir_all(dir).await?;
        let path = dir.join(format!("{name}.log"));
        let file = LogFile::open(path.clone(), rotation)?;
        let (queue, lines) = sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name(format!("log-{name}"))
            .spawn(move || write_lines(file, lines))?;
        let log = ServerLog {
            queue: Some(queue),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        Ok((log, path))
    }

    /// A log that writes nowhere (for embedding without files).
    pub fn discard() -> ServerLog {
        ServerLog {
            queue: None,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// True when entries go somewhere (callers may skip building one otherwise).
    pub fn is_on(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues one composed line; never waits.
    pub fn line(&self, text: impl Into<String>) {
        if self.queue.is_some() {
            self.entry(Entry::Text(text.into()));
        }
    }

    /// Queues one event; never waits.
    pub fn entry(&self, entry: Entry) {
        let Some(queue) = &self.queue else { return };
        let now = SystemTime::now();
        if self.dropped.load(Ordering::Relaxed) > 0 {
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            let note = format!("({dropped} log lines dropped: disk too slow)");
            let _ = queue.try_send((now, Entry::Text(note)));
        }
        if let Err(TrySendError::Full(_)) = queue.try_send((now, entry)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `4096`, `64KiB`, `64MiB`, `1GiB` (also `K`/`M`/`G`, binary): a size in bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => {
            return Err(format!(
                "`{text}` is not a size: give bytes, or a number with KiB, MiB or GiB (e.g. 64MiB)"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| {
            format!(
                "`{text}` is not a size: give bytes, or a number with KiB, MiB or GiB (e.g. 64MiB)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_bytes_and_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }

    fn shown(bytes: &[u8]) -> String {
        printable(bytes)
    }

    #[test]
    fn printable_ascii_is_kept() {
        assert_eq!(shown(b"IAMAT kiwi +1+1 1.5"), "IAMAT kiwi +1+1 1.5");
    }

    #[test]
    fn controls_separators_bidi_and_invalid_bytes_are_escaped() {
        assert_eq!(
            shown(b"a\nb\rc\td\x00\x1b\x7f"),
            "a\\nb\\rc\\td\\x00\\x1b\\x7f"
        );
        assert_eq!(
            shown("x\u{2028}y\u{2029}".as_bytes()),
            "x\\u{2028}y\\u{2029}"
        );
        assert_eq!(
            shown("\u{202e}evil\u{2066}".as_bytes()),
            "\\u{202e}evil\\u{2066}"
        );
        assert_eq!(shown("\u{85}".as_bytes()), "\\u{0085}");
        assert_eq!(shown("café ☕".as_bytes()), "café ☕");
        assert_eq!(shown(b"\xff\xfe"), "\\xff\\xfe");
        // A truncated multi-byte character: each byte escaped exactly.
        assert_eq!(shown(b"\xe2\x80"), "\\xe2\\x80");
    }

    #[test]
    fn different_inputs_never_log_alike() {
        let inputs: [&[u8]; 6] = [
            b"\\xff",
            b"\xff",
            b"\\n",
            b"\n",
            "\u{2026}".as_bytes(),
            b"...",
        ];
        let logged: std::collections::HashSet<String> = inputs.iter().map(|i| shown(i)).collect();
        assert_eq!(logged.len(), inputs.len(), "{logged:?}");
    }

    #[test]
    fn fields_are_cut_with_a_count() {
        let long = vec![b'a'; FIELD_BOUND + 10];
        let text = shown(&long);
        assert!(text.starts_with(&"a".repeat(FIELD_BOUND)));
        assert!(text.ends_with("…(+10 bytes)"), "{}", &text[FIELD_BOUND..]);
        // A cut never splits a character.
        let mut wide = vec![b'a'; FIELD_BOUND - 1];
        wide.extend_from_slice("é".as_bytes());
        assert!(shown(&wide).ends_with("…(+2 bytes)"));
    }

    #[test]
    fn the_word_scan_agrees_with_the_byte_rule() {
        for backslash in [true, false] {
            for special in (0..=255u8).filter(|b| !(0x20..0x7f).contains(b) || *b == b'\\') {
                for at in 0..8 {
                    let mut word = *b"abcdefgh";
                    word[at] = special;
                    let needs = special != b'\\' || backslash;
                    if needs {
                        assert!(word_needs_escape(u64::from_ne_bytes(word), backslash));
                    }
                    let mut long = b"0123456789abcdef".to_vec();
                    long[at + 3] = special;
                    let expect = if needs { at + 3 } else { long.len() };
                    assert_eq!(plain_prefix(&long, backslash), expect, "{special} at {at}");
                }
            }
        }
        assert!(!word_needs_escape(u64::from_ne_bytes(*b"IAMAT ki"), true));
    }

    #[test]
    fn the_plain_prefix_is_exact_at_every_length_and_position() {
        for special in [0u8, b'\n', 0x1f, b'\\', 0x7f, 0x80, 0xff] {
            for len in 0..24 {
                let plain: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                assert_eq!(plain_prefix(&plain, true), len);
                for at in 0..len {
                    let mut line = plain.clone();
                    line[at] = special;
                    assert_eq!(plain_prefix(&line, true), at, "{special} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn composed_lines_stay_one_line() {
        let mut out = Vec::new();
        escape_text(&mut out, "link to X: a\nb \u{202e} c:\\d".as_bytes());
        assert_eq!(out, b"link to X: a\\nb \\u{202e} c:\\d");
    }

    #[test]
    fn stamps_are_rfc3339_with_microseconds() {
        let mut out = Vec::new();
        let at = UNIX_EPOCH + Duration::new(1_621_464_827, 959_498_503);
        Clock::default().stamp(&mut out, at);
        assert_eq!(out, b"2021-05-19T22:53:47.959498Z ");
        for (nanos, shown) in [(0, "000000"), (7_999, "000007"), (10_203_000, "010203")] {
            let mut out = Vec::new();
            Clock::default().stamp(&mut out, UNIX_EPOCH + Duration::new(1_621_464_827, nanos));
            assert_eq!(out, format!("2021-05-19T22:53:47.{shown}Z ").into_bytes());
        }
    }
}
