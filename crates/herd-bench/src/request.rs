//! What the bench sends and how it judges a reply: pure functions over bytes, so the checks are
//! unit-tested without a server.

use herd_wire::{AtLine, ClientTime};

/// The two client commands the bench sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Iamat,
    Whatsat,
}

/// Why a request did not get a good reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The TCP connection could not be opened.
    Connect,
    /// No complete reply within `--timeout`.
    Timeout,
    /// The server closed the connection before the reply was complete.
    Closed,
    /// The server answered `? ...`.
    Rejected,
    /// A reply that is not the AT line this request should get.
    BadReply,
    /// Any other socket error.
    Io,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Closed,
        ErrorKind::Rejected,
        ErrorKind::BadReply,
        ErrorKind::Io,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::Rejected => "rejected",
            ErrorKind::BadReply => "bad-reply",
            ErrorKind::Io => "io",
        }
    }
}

/// One request on the wire, with what its reply must echo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: Kind,
    /// The line to send, with its `\n`.
    pub line: Vec<u8>,
    /// The client ID the reply's AT line must carry.
    pub client: String,
    /// For IAMAT, the client time the reply must copy.
    pub time: Option<ClientTime>,
}

impl Request {
    /// `IAMAT client position now`.
    pub fn iamat(client: &str, position: &str, time: ClientTime) -> Request {
        Request {
            kind: Kind::Iamat,
            line: format!("IAMAT {client} {position} {}\n", time.to_wire()).into_bytes(),
            client: client.to_owned(),
            time: Some(time),
        }
    }

    /// `WHATSAT client radius bound`.
    pub fn whatsat(client: &str, radius_km: u32, bound: u32) -> Request {
        Request {
            kind: Kind::Whatsat,
            line: format!("WHATSAT {client} {radius_km} {bound}\n").into_bytes(),
            client: client.to_owned(),
            time: None,
        }
    }

    /// Judges the first line of the reply (without its newline): the AT line it carries, or why not.
    pub fn check_first_line(&self, line: &[u8]) -> Result<AtLine, ErrorKind> {
        if line.starts_with(b"?") {
            return Err(ErrorKind::Rejected);
        }
        let at = AtLine::parse(line).map_err(|_| ErrorKind::BadReply)?;
        if at.client() != self.client.as_bytes() {
            return Err(ErrorKind::BadReply);
        }
        if let Some(time) = self.time
            && at.time() != time
        {
            return Err(ErrorKind::BadReply);
        }
        Ok(at)
    }
}

/// A deterministic, valid position for client `n` (spread around UCLA, so Places answers vary).
pub fn position_for(n: usize) -> String {
    let lat = 34.068930 + (n % 100) as f64 * 0.001;
    let lng = -118.445127 - (n / 100 % 100) as f64 * 0.001;
    format!("{lat:+.6}{lng:+.6}")
}

/// The first line of `reply` (without `\n` or `\r\n`) and whether a line end was found.
pub fn first_line(reply: &[u8]) -> (&[u8], bool) {
    match reply.iter().position(|b| *b == b'\n') {
        Some(end) => {
            let line = &reply[..end];
            (line.strip_suffix(b"\r").unwrap_or(line), true)
        }
        None => (reply, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time() -> ClientTime {
        ClientTime::parse(b"1621464827.959498503").unwrap()
    }

    #[test]
    fn iamat_line_and_its_good_reply() {
        let r = Request::iamat("bench-x-1", "+34.068930-118.445127", time());
        assert_eq!(
            r.line,
            b"IAMAT bench-x-1 +34.068930-118.445127 1621464827.959498503\n"
        );
        let ok = r.check_first_line(
            b"AT Riley +0.000100000 bench-x-1 +34.068930-118.445127 1621464827.959498503",
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn replies_that_do_not_match_are_errors() {
        let r = Request::iamat("bench-x-1", "+34.068930-118.445127", time());
        assert_eq!(
            r.check_first_line(b"? IAMAT bench-x-1"),
            Err(ErrorKind::Rejected)
        );
        assert_eq!(r.check_first_line(b"hello"), Err(ErrorKind::BadReply));
        assert_eq!(
            r.check_first_line(b"AT Riley +0.1 other +34.068930-118.445127 1621464827.959498503"),
            Err(ErrorKind::BadReply)
        );
        assert_eq!(
            r.check_first_line(b"AT Riley +0.1 bench-x-1 +34.068930-118.445127 1621464827.9"),
            Err(ErrorKind::BadReply)
        );
    }

    #[test]
    fn whatsat_accepts_any_time_for_its_client() {
        let r = Request::whatsat("bench-x-1", 10, 5);
        assert_eq!(r.line, b"WHATSAT bench-x-1 10 5\n");
        assert!(
            r.check_first_line(b"AT Juzang +0.1 bench-x-1 +34-118 5")
                .is_ok()
        );
    }

    #[test]
    fn positions_are_valid_iso6709() {
        for n in [0, 1, 99, 100, 12345] {
            let p = position_for(n);
            assert!(herd_wire::Position::parse(p.as_bytes()).is_ok(), "{p}");
        }
        assert_eq!(position_for(0), "+34.068930-118.445127");
    }

    #[test]
    fn first_line_strips_the_line_end() {
        assert_eq!(first_line(b"AT a\r\nrest"), (&b"AT a"[..], true));
        assert_eq!(first_line(b"AT a"), (&b"AT a"[..], false));
    }
}
