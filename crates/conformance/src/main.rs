//! `conformance` — not built yet; see the open issues.

fn main() {
    eprintln!("conformance: not built yet");
    std::process::exit(2);
}
