//! `herd-bench` — not built yet; see the open issues.

fn main() {
    eprintln!("herd-bench: not built yet");
    std::process::exit(2);
}
