//! The roles of an organisation's users and of provider staff (USR-1, STF-1), and the channel a
//! credential belongs to (AUTH-4). The permission policy over them is in [`crate::policy`].

use std::fmt;

/// A user's role in their organisation (USR-1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the organisation, bounded by USR-3.
    Owner,
    /// All an Owner may except what USR-3 reserves to Owners.
    Admin,
    /// SIMs, plans and tickets; no orders, top-ups, users, cards or customer data.
    User,
    /// Reads what User reads; changes only its own profile.
    ReadOnly,
    /// Orders, SIMs, top-ups and Auto-Top-Up through the API channel only; no portal login.
    ApiUser,
}

impl Role {
    /// Every role, strongest first.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::User,
        Role::ReadOnly,
        Role::ApiUser,
    ];

    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::User => "user",
            Role::ReadOnly => "read_only",
            Role::ApiUser => "api_user",
        }
    }

    /// The name people read, e.g. in an explanation: "Owner", "Admin", "User",
    /// "Read-only user", "API user". [`Display`](fmt::Display) stays the stable snake_case
    /// name.
    pub const fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::User => "User",
            Role::ReadOnly => "Read-only user",
            Role::ApiUser => "API user",
        }
    }

    /// The label with its indefinite article, to start a sentence: "An Owner", "An Admin",
    /// "A User", "A read-only user", "An API user". The article follows the sound, not the
    /// letter ("A User", "An API user"), so it is written out rather than derived.
    pub const fn label_with_article(self) -> &'static str {
        match self {
            Role::Owner => "An Owner",
            Role::Admin => "An Admin",
            Role::User => "A User",
            Role::ReadOnly => "A read-only user",
            Role::ApiUser => "An API user",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider staff role (STF-1). A staff identity holds one or more.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Tickets of their departments, internal notes.
    Support,
    /// Order status, shipments, SIM assignment to orders.
    Fulfillment,
    /// Invoices, additional documents, legal-field changes with a reason, refunds.
    Billing,
    /// Owner administration, e-mail change approvals.
    Supervisor,
}

impl StaffRole {
    /// Every staff role.
    pub const ALL: [StaffRole; 4] = [
        StaffRole::Support,
        StaffRole::Fulfillment,
        StaffRole::Billing,
        StaffRole::Supervisor,
    ];

    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            StaffRole::Support => "support",
            StaffRole::Fulfillment => "fulfillment",
            StaffRole::Billing => "billing",
            StaffRole::Supervisor => "supervisor",
        }
    }

    /// The name people read: "Support", "Fulfillment", "Billing", "Supervisor".
    pub const fn label(self) -> &'static str {
        match self {
            StaffRole::Support => "Support",
            StaffRole::Fulfillment => "Fulfillment",
            StaffRole::Billing => "Billing",
            StaffRole::Supervisor => "Supervisor",
        }
    }
}

/// Where a request came from. It is derived from the credential type (session token, API
/// client token, host-built staff identity), never taken from the caller (AUTH-4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The customer portal (a logged-in user's session).
    Portal,
    /// The API (an API client's session).
    Api,
    /// Provider staff, through a host-authenticated staff identity.
    Staff,
    /// The network side (usage records, provisioning completions).
    Network,
    /// The provider itself (maintenance, scheduled work).
    System,
}

/// A support ticket department (TKT-1); staff Support roles are scoped to departments (TKT-2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Department {
    /// Invoices, payments, legal data.
    Billing,
    /// Connectivity, APN, devices.
    Technical,
    /// Orders and their shipments.
    OrdersAndShipping,
    /// Plans and SIMs.
    PlansAndSims,
    /// Anything else.
    General,
}

impl Department {
    /// Every department.
    pub const ALL: [Department; 5] = [
        Department::Billing,
        Department::Technical,
        Department::OrdersAndShipping,
        Department::PlansAndSims,
        Department::General,
    ];
}
