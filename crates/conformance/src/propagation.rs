//! What the reports say about a flood: for one update, each server's verdict — when it learned
//! the update, that it never did, that it answers with another AT line, that it was down, or that
//! it learned an update the topology says it could not reach.

use std::time::Duration;

/// One update and what became of it at each server.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Propagation {
    /// What was sent, where, and in which circumstances (`IAMAT c at Riley; Jaquez, Juzang down`).
    pub update: String,
    pub servers: Vec<Learned>,
}

/// One server's verdict on one update.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Learned {
    pub server: String,
    pub verdict: Verdict,
    /// Milliseconds from the update's IAMAT until the server answered with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_ms: Option<f64>,
    /// The AT line it answered with, when that is not the expected one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered: Option<String>,
}

/// A server's verdict on one update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Learned it (the origin: answered the IAMAT).
    Learned,
    /// Still serves the line it should keep (an older update changed nothing).
    Kept,
    /// Never answered with it before the deadline.
    Never,
    /// Answers with a different AT line for the client.
    WrongLine,
    /// Stopped by the suite for this case.
    Down,
    /// Correctly did not learn it: no path of running servers leads there.
    Unreachable,
    /// Learned it although no path of running servers leads there.
    Unexpected,
    /// Could not be asked (no reply, connection refused).
    NoAnswer,
}

impl Verdict {
    /// Whether this verdict fails the update.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Verdict::Never | Verdict::WrongLine | Verdict::Unexpected | Verdict::NoAnswer
        )
    }
}

impl Learned {
    pub fn new(server: &str, verdict: Verdict) -> Learned {
        Learned {
            server: server.to_owned(),
            verdict,
            after_ms: None,
            answered: None,
        }
    }

    pub fn after(server: &str, after: Duration) -> Learned {
        Learned {
            after_ms: Some(after.as_secs_f64() * 1000.0),
            ..Learned::new(server, Verdict::Learned)
        }
    }

    /// `Jaquez 12 ms`, `Campbell never`, ...
    pub fn describe(&self) -> String {
        let ms = self
            .after_ms
            .map_or(String::new(), |ms| format!("{ms:.0} ms"));
        match self.verdict {
            Verdict::Learned => format!("{} {ms}", self.server),
            Verdict::Kept => format!("{} kept it", self.server),
            Verdict::Never => format!("{} NEVER", self.server),
            Verdict::WrongLine => format!("{} WRONG LINE", self.server),
            Verdict::Down => format!("{} (down)", self.server),
            Verdict::Unreachable => format!("{} (unreachable, not told)", self.server),
            Verdict::Unexpected => format!("{} LEARNED IT UNREACHABLE", self.server),
            Verdict::NoAnswer => format!("{} NO ANSWER", self.server),
        }
    }
}

impl Propagation {
    /// One line: the update, then each server's verdict.
    pub fn line(&self) -> String {
        let servers: Vec<String> = self.servers.iter().map(Learned::describe).collect();
        format!("{}: {}", self.update, servers.join(", "))
    }

    /// Whether any server failed this update.
    pub fn failed(&self) -> bool {
        self.servers.iter().any(|s| s.verdict.is_failure())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let p = Propagation {
            update: "IAMAT c at Riley".into(),
            servers: vec![
                Learned::after("Riley", Duration::ZERO),
                Learned::after("Jaquez", Duration::from_millis(12)),
                Learned::new("Campbell", Verdict::Never),
                Learned::new("Bernard", Verdict::Down),
            ],
        };
        assert_eq!(
            p.line(),
            "IAMAT c at Riley: Riley 0 ms, Jaquez 12 ms, Campbell NEVER, Bernard (down)"
        );
        assert!(p.failed());
    }
}
