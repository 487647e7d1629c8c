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
    // An index loop rather than `split`: every AT line goes through here on every hop.
    let mut first: [&[u8]; N] = [&[]; N];
    let mut count = 0;
    let mut at = 0;
    while at < line.len() {
        if is_space(line[at]) {
            at += 1;
            continue;
        }
        let start = at;
        at = field_end(line, at);
        if let Some(slot) = first.get_mut(count) {
            *slot = &line[start..at];
        }
        count += 1;
    }
    (first, count)
}

/// The bytes of `word` below `limit` (at most 0x80), each marked by its high bit: the classic
/// "has a byte less than" word test. The lowest mark is exact (a borrow can only mark bytes
/// above a true one), so `trailing_zeros` of a little-endian word finds the first such byte.
pub fn bytes_below(word: u64, limit: u8) -> u64 {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGH
}

/// Where the field starting at `at` ends. Eight bytes at a time while none can be white space
/// (every white-space byte is at most 0x20); the byte loop then decides whether the first low
/// byte is white space or another control inside the field.
fn field_end(line: &[u8], mut at: usize) -> usize {
    while let Some(Ok(eight)) = line.get(at..at + 8).map(<[u8; 8]>::try_from) {
        let low = bytes_below(u64::from_le_bytes(eight), 0x21);
        if low != 0 {
            at += (low.trailing_zeros() / 8) as usize;
            break;
        }
        at += 8;
    }
    while at < line.len() && !is_space(line[at]) {
        at += 1;
    }
    at
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
    fn split_array_agrees_with_split_on_every_kind_of_byte() {
        // Fields long enough for the eight-byte skip, next to every white-space byte, controls
        // just below and above the white-space range, and bytes with the high bit set.
        let pieces: [&[u8]; 12] = [
            b" ",
            b"\t",
            b"\n",
            b"\x0b",
            b"\x0c",
            b"\r",
            b"\x08",
            b"\x0e",
            b"\x21",
            b"\xff\x80\x7f",
            b"kiwi.cs.ucla.edu",
            b"+34.068930-118.445127",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut line = Vec::new();
            for _ in 0..(state % 9) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                line.extend_from_slice(pieces[(state >> 33) as usize % pieces.len()]);
            }
            let fields: Vec<&[u8]> = split(&line).collect();
            let (first, count) = split_array::<6>(&line);
            assert_eq!(count, fields.len(), "{line:?}");
            for (i, field) in first.iter().enumerate() {
                assert_eq!(
                    *field,
                    fields.get(i).copied().unwrap_or_default(),
                    "{line:?}"
                );
            }
        }
    }

    #[test]
    fn split_array_keeps_the_first_fields_and_counts_all() {
        let (first, count) = split_array::<2>(b" a\tbb  c ");
        assert_eq!((first, count), ([&b"a"[..], b"bb"], 3));
        let (first, count) = split_array::<3>(b"x");
        assert_eq!((first, count), ([&b"x"[..], b"", b""], 1));
    }
}
