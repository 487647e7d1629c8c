//! The live progress bar (on a terminal only): elapsed time, live request rate and errors.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::stats::Recorder;

/// A progress bar on stderr when it is a terminal; silent otherwise.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar if stderr is a terminal.
    pub fn on_terminal() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {elapsed}/{len_s} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style.with_key(
            "len_s",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}s", state.len().unwrap_or(0) / 1000);
            },
        ));
        Progress { bar: Some(bar) }
    }

    /// No output at all.
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }

    /// Names the herd being run (useful in --compare).
    pub fn label(&self, label: &str) {
        if let Some(bar) = &self.bar {
            bar.set_prefix(label.to_owned());
        }
    }

    /// Updates the bar from `recorder` every 250 ms until the returned task is aborted.
    pub fn follow(
        &self,
        recorder: Arc<Recorder>,
        start: Instant,
        warmup: Duration,
        duration: Duration,
    ) -> JoinHandle<()> {
        let Some(bar) = self.bar.clone() else {
            return tokio::spawn(async {});
        };
        let total = warmup + duration;
        bar.reset();
        bar.set_length(u64::try_from(total.as_millis()).unwrap_or(u64::MAX));
        tokio::spawn(async move {
            let mut last_sent = 0;
            let mut last_at = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let elapsed = start.elapsed();
                let sent = recorder.live.sent.load(Ordering::Relaxed);
                let errors = recorder.live.errors.load(Ordering::Relaxed);
                let rate = (sent - last_sent) as f64 / last_at.elapsed().as_secs_f64().max(1e-3);
                (last_sent, last_at) = (sent, Instant::now());
                let phase = if elapsed < warmup {
                    "warmup"
                } else if elapsed < total {
                    "measuring"
                } else {
                    "finishing"
                };
                bar.set_position(u64::try_from(elapsed.min(total).as_millis()).unwrap_or(0));
                bar.set_message(format!("{phase}: {rate:.0} req/s, {errors} errors"));
            }
        })
    }

    /// Replaces the message (e.g. while probes settle).
    pub fn phase(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_owned());
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
