//! Keyset pages for SQL stores: cursors (a store's own encodings of the last key of a page;
//! anything else is `InvalidInput`), the one-row-more fetch that tells whether a page follows,
//! and the page itself. The SQLite and PostgreSQL stores use these for every list.

use crate::error::{StoreError, StoreResult};
use crate::page::{Cursor, MAX_PAGE, Page, PageRequest};
use uuid::Uuid;

fn bad_cursor() -> StoreError {
    StoreError::InvalidInput { what: "cursor" }
}

/// An id as this store writes it in a cursor: 32 lower-case hex digits.
fn hex_id(raw: &str) -> Option<Uuid> {
    let well_formed = raw.len() == 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if well_formed {
        Uuid::try_parse(raw).ok()
    } else {
        None
    }
}

/// The cursor after the row with id `id`.
pub fn id_cursor(id: Uuid) -> Cursor {
    Cursor::new(id.simple().to_string())
}

/// The id a page starts after, from a cursor made by [`id_cursor`].
///
/// # Errors
/// `InvalidInput { what: "cursor" }` for any other text.
pub fn id_after(page: &PageRequest) -> StoreResult<Option<Uuid>> {
    page.after
        .as_ref()
        .map(|c| hex_id(c.as_str()).ok_or_else(bad_cursor))
        .transpose()
}

/// The cursor after the row keyed `(first, second)` (e.g. ticket id, organisation).
pub fn pair_cursor(first: Uuid, second: Uuid) -> Cursor {
    Cursor::new(format!("{}.{}", first.simple(), second.simple()))
}

/// The key a page starts after, from a cursor made by [`pair_cursor`].
///
/// # Errors
/// `InvalidInput { what: "cursor" }` for any other text.
pub fn pair_after(page: &PageRequest) -> StoreResult<Option<(Uuid, Uuid)>> {
    page.after
        .as_ref()
        .map(|c| {
            let (a, b) = c.as_str().split_once('.').ok_or_else(bad_cursor)?;
            Ok((
                hex_id(a).ok_or_else(bad_cursor)?,
                hex_id(b).ok_or_else(bad_cursor)?,
            ))
        })
        .transpose()
}

/// The SQL `LIMIT` of a page: one row more than the page holds, so the store knows whether
/// another page follows without a second query.
pub fn fetch_limit(limit: usize) -> i64 {
    i64::try_from(limit).map_or(i64::from(MAX_PAGE), |l| l.saturating_add(1))
}

/// A page from the rows read with [`fetch_limit`]: at most `limit` of them, with a cursor at
/// the last one when more were read.
pub fn page_of<T>(mut rows: Vec<T>, limit: usize, cursor: impl Fn(&T) -> Cursor) -> Page<T> {
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(cursor);
        Page { items: rows, next }
    } else {
        Page {
            items: rows,
            next: None,
        }
    }
}

/// `1..=MAX_PAGE` as an SQL limit, for batch sizes that are not pages.
///
/// # Errors
/// `InvalidInput { what }` otherwise.
pub fn checked_count(n: u32, what: &'static str) -> StoreResult<i64> {
    if n == 0 || n > MAX_PAGE {
        return Err(StoreError::InvalidInput { what });
    }
    Ok(i64::from(n))
}

/// A cursor naming the last row's key: `<list tag>.<lower-case hex of the key bytes>`. The tag
/// keeps a cursor of one list from being taken for another's.
pub fn encode_cursor(tag: &str, key: &[u8]) -> Cursor {
    let mut out = String::with_capacity(tag.len() + 1 + key.len() * 2);
    out.push_str(tag);
    out.push('.');
    for b in key {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    Cursor::new(out)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The key bytes of a cursor made by [`encode_cursor`] with `tag`.
///
/// # Errors
/// `InvalidInput { what: "cursor" }` for anything else (another list's cursor, another
/// store's, a damaged one).
pub fn decode_cursor<const N: usize>(tag: &str, cursor: &Cursor) -> StoreResult<[u8; N]> {
    let invalid = || StoreError::InvalidInput { what: "cursor" };
    let hex = cursor
        .as_str()
        .strip_prefix(tag)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(invalid)?
        .as_bytes();
    if hex.len() != N * 2 {
        return Err(invalid());
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        match pair {
            [hi, lo] => {
                *slot =
                    (nibble(*hi).ok_or_else(invalid)? << 4) | nibble(*lo).ok_or_else(invalid)?;
            }
            _ => return Err(invalid()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_cursors_round_trip_and_refuse_foreign_text() {
        let key = [0u8, 1, 0x7f, 0x80, 0xfe, 0xff];
        let cursor = encode_cursor("o", &key);
        assert_eq!(cursor.as_str(), "o.00017f80feff");
        assert_eq!(decode_cursor::<6>("o", &cursor), Ok(key));
        for bad in [
            "o.00017f80fef",
            "d.00017f80feff",
            "o00017f80feff",
            "o.00017F80FEFF",
            "",
        ] {
            assert!(decode_cursor::<6>("o", &Cursor::new(bad)).is_err(), "{bad}");
        }
    }
}
