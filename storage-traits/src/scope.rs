//! The two scopes stores work in (DESIGN §1, "Scopes").

use selfcare_core::ids::OrgId;

/// Where a transaction works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "scope",
    content = "org",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Scope {
    /// One organisation: every read and write stays inside it.
    Org(OrgId),
    /// The provider: reads return ids and due times only, for maintenance, dispatch, staff
    /// queues and throttling; each change they lead to runs in the owning organisation's scope.
    Provider,
}
