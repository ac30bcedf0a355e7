//! Keyset pages: cursors (this store's own encodings of the last key of a page; anything
//! else is `InvalidInput`), the one-row-more fetch that tells whether a page follows, and the
//! page itself. Every list of every area uses these.

pub(crate) use selfcare_storage::sql::keyset::*;

/// The lower bound of an ascending keyset walk from the start: the empty BLOB sorts before
/// every 16-byte id.
pub(crate) const BEFORE_EVERY_ID: [u8; 0] = [];

/// The upper bound of a descending keyset walk from the start: 17 bytes of `0xff` sort after
/// every 16-byte id.
pub(crate) const AFTER_EVERY_ID: [u8; 17] = [0xff; 17];
