//! Splitting a protocol line into fields.
//!
//! The protocol separates fields by runs of white space, where white space is the C locale's
//! `isspace` set: space, tab, LF, VT, FF and CR. Rust's `u8::is_ascii_whitespace` leaves out VT,
//! so this module owns the one definition everybody uses.

/// True for the protocol's white-space bytes: space, `\t`, `\n`, `\x0b` (VT), `\x0c` (FF), `\r`.
pub fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The line without leading and trailing white space (this is also the copy a `? ` reply echoes).
pub fn trim(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !is_space(*b))
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_space(*b))
        .map_or(start, |i| i + 1);
    &line[start..end]
}

/// The non-empty fields of a line, in order.
pub fn split(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| is_space(*b)).filter(|f| !f.is_empty())
}

/// The first `N` fields of a line (empty slices beyond the last) and how many fields it has in
/// all: what a parser needs, without collecting into a `Vec` for every line.
pub fn split_array<const N: usize>(line: &[u8]) -> ([&[u8]; N], usize) {
    let mut first: [&[u8]; N] = [&[]; N];
    let mut count = 0;
    for field in split(line) {
        if let Some(slot) = first.get_mut(count) {
            *slot = field;
        }
        count += 1;
    }
    (first, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_every_protocol_space() {
        assert_eq!(trim(b" \t\x0b\x0cIAMAT a\r\n"), b"IAMAT a");
        assert_eq!(trim(b"  \r\n"), b"");
        assert_eq!(trim(b""), b"");
    }

    #[test]
    fn splits_on_runs_of_spaces_including_vertical_tab() {
        let fields: Vec<&[u8]> = split(b"WHATSAT\x0bkiwi \t 10\x0c5").collect();
        assert_eq!(fields, vec![&b"WHATSAT"[..], b"kiwi", b"10", b"5"]);
    }

    #[test]
    fn split_array_keeps_the_first_fields_and_counts_all() {
        let (first, count) = split_array::<2>(b" a\tbb  c ");
        assert_eq!((first, count), ([&b"a"[..], b"bb"], 3));
        let (first, count) = split_array::<3>(b"x");
        assert_eq!((first, count), ([&b"x"[..], b"", b""], 1));
    }
}
