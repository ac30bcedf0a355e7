//! Optimistic concurrency: every aggregate row carries a version.

/// The version of one aggregate row: 1 when inserted, +1 on every update.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Version(pub u64);

impl Version {
    /// The version of a freshly inserted row.
    pub const FIRST: Version = Version(1);

    /// The version after one more update (saturating; a row is not updated 2^64 times).
    #[must_use]
    pub const fn next(self) -> Version {
        Version(self.0.saturating_add(1))
    }
}

/// A value read from a store together with the version it had.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version when read; pass it back to update or delete it.
    pub version: Version,
}
