//! How a stand-in should behave: port, added latency and failure mode.

use std::time::Duration;

/// Settings for [`crate::PlacesStandIn::start_with`].
#[derive(Clone, Debug, Default)]
pub struct StandInConfig {
    /// Port to bind on 127.0.0.1; `None` (or `Some(0)`) picks a free one.
    pub port: Option<u16>,
    /// Delay added before every response.
    pub latency: Duration,
    /// How the stand-in misbehaves, if at all.
    pub failure: FailureMode,
}

/// A way for the stand-in to fail on purpose, so servers' error paths can be tested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailureMode {
    /// Answer like Google.
    #[default]
    None,
    /// HTTP 500 with a short text body.
    Http500,
    /// Wait an hour before answering: a client timeout must fire.
    Hang,
    /// HTTP 200 with the body `<html>not json</html>`.
    NotJson,
    /// HTTP 400 whose error message quotes the request's API key (as some Google errors do):
    /// a server must not relay the key to its client or its log.
    EchoKey,
}

impl FailureMode {
    pub(crate) fn to_code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Http500 => 1,
            Self::Hang => 2,
            Self::NotJson => 3,
            Self::EchoKey => 4,
        }
    }

    pub(crate) fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Http500,
            2 => Self::Hang,
            3 => Self::NotJson,
            4 => Self::EchoKey,
            _ => Self::None,
        }
    }
}
