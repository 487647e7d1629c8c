//! `herd-client` — not built yet; see the open issues.

fn main() {
    eprintln!("herd-client: not built yet");
    std::process::exit(2);
}
