//! Keyset pagination: a page costs the same at any depth (DESIGN §3).

use crate::error::{StoreError, StoreResult};

/// The largest page a store returns.
pub const MAX_PAGE: u32 = 500;

/// An opaque position in a list, produced by the store that listed it. Hosts pass it back
/// unchanged to get the next page.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a store's encoding of the last row's sort key.
    pub fn new(encoded: impl Into<String>) -> Self {
        Cursor(encoded.into())
    }

    /// The store's encoding.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which page to read: the rows after `after` (from the start when `None`), at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRequest {
    /// Where the previous page ended.
    pub after: Option<Cursor>,
    /// How many rows at most, 1..=[`MAX_PAGE`].
    pub limit: u32,
}

impl PageRequest {
    /// The first page of `limit` rows.
    pub fn first(limit: u32) -> Self {
        PageRequest { after: None, limit }
    }

    /// The page after `cursor`.
    pub fn after(cursor: Cursor, limit: u32) -> Self {
        PageRequest {
            after: Some(cursor),
            limit,
        }
    }

    /// The limit as a `usize`, checked.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when the limit is 0 or above [`MAX_PAGE`].
    pub fn checked_limit(&self) -> StoreResult<usize> {
        if self.limit == 0 || self.limit > MAX_PAGE {
            return Err(StoreError::InvalidInput { what: "page limit" });
        }
        usize::try_from(self.limit).map_err(|_| StoreError::InvalidInput { what: "page limit" })
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page<T> {
    /// The rows, in the list's order.
    pub items: Vec<T>,
    /// Where to continue; `None` on the last page.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// An empty last page.
    pub fn empty() -> Self {
        Page {
            items: Vec::new(),
            next: None,
        }
    }
}
