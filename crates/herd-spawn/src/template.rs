//! The command template: which placeholders it may use, and how values are quoted into it.

use anyhow::bail;

/// The placeholders a template may use. `{herd_file}` is another name for `{herd}`, and
/// `{address}` is `{host}:{port}`.
pub const PLACEHOLDERS: &[&str] = &[
    "{name}",
    "{port}",
    "{host}",
    "{address}",
    "{places_url}",
    "{herd}",
    "{herd_file}",
    "{log_dir}",
];

/// Whether servers started from `template` must listen on the herd file's own ports: the
/// template tells them neither their port nor where the herd file with the chosen ports is.
pub fn uses_herd_ports(template: &str) -> bool {
    ["{port}", "{address}", "{herd}", "{herd_file}"]
        .iter()
        .all(|p| !template.contains(p))
}

/// Rejects templates with unknown placeholders or nothing that tells the servers apart.
pub fn check_template(template: &str) -> anyhow::Result<()> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            break;
        };
        let placeholder = &after[..=close];
        if !PLACEHOLDERS.contains(&placeholder) {
            bail!(
                "unknown placeholder {placeholder} in --spawn; use {}",
                PLACEHOLDERS.join(" ")
            );
        }
        rest = &after[close + 1..];
    }
    if ["{name}", "{port}", "{address}"]
        .iter()
        .all(|p| !template.contains(p))
    {
        bail!(
            "--spawn needs {{name}} (or {{port}}) so each server of the herd gets its own command"
        );
    }
    Ok(())
}

/// Quotes `value` for `sh` when it holds anything but safe characters.
pub fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert!(
            check_template("python s.py {name} --port {port} --places-url {places_url}").is_ok()
        );
        assert!(check_template("run {herd} {name}").is_ok());
        assert!(check_template("run {herd_file} {address}").is_ok());
        let unknown = check_template("run {nmae} {port}")
            .err()
            .map(|e| e.to_string());
        assert!(unknown.is_some_and(|e| e.contains("{nmae}")));
        assert!(check_template("run {name}").is_ok());
        assert!(check_template("run").is_err());
    }

    #[test]
    fn herd_ports_only_when_nothing_says_where_to_listen() {
        assert!(uses_herd_ports("python3 server.py {name}"));
        assert!(!uses_herd_ports("run {herd} {name}"));
        assert!(!uses_herd_ports("run {herd_file} {name}"));
        assert!(!uses_herd_ports("run {name} --port {port}"));
        assert!(!uses_herd_ports("run {name} --listen {address}"));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("http://127.0.0.1:80"), "http://127.0.0.1:80");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
