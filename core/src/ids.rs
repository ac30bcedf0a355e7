//! Typed identifiers (UUID v7), built from a caller-supplied instant and random bytes so that
//! `core` has no clock or randomness of its own.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{Error, ReasonCode};

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident = $field:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new UUID v7 id from `now` and 10 random bytes supplied by the caller.
            /// Ids made later sort after ids made earlier (keyset pagination relies on it).
            pub fn new(now: OffsetDateTime, random: [u8; 10]) -> Self {
                Self(uuid_v7(now, random))
            }

            /// Wraps an existing UUID (from a store).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the hyphenated text form.
            ///
            /// # Errors
            /// [`Error::Validation`] when `raw` is not a UUID.
            pub fn parse(raw: &str) -> Result<Self, Error> {
                Uuid::try_parse(raw.trim()).map(Self).map_err(|_| {
                    Error::validation($field, ReasonCode::InvalidFormat, "is not a valid id")
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }
    )*};
}

typed_id! {
    /// An organisation (customer account): the tenant every scoped row belongs to.
    OrgId = "org_id";
    /// A user of an organisation.
    UserId = "user_id";
    /// An API client (ApiUser credentials).
    ApiClientId = "api_client_id";
    /// An address-book entry.
    AddressId = "address_id";
    /// A stored card.
    CardId = "card_id";
    /// An order.
    OrderId = "order_id";
    /// An invoice or additional document.
    DocumentId = "document_id";
    /// A shipment.
    ShipmentId = "shipment_id";
    /// A SIM (the ICCID is its business key; this is the row id).
    SimId = "sim_id";
    /// A consumer plan.
    PlanId = "plan_id";
    /// A provisioning request sent to the network.
    ProvisioningId = "provisioning_id";
    /// A support ticket.
    TicketId = "ticket_id";
    /// A message of a ticket.
    TicketMessageId = "ticket_message_id";
    /// A payment intent (ORD-5).
    PaymentIntentId = "payment_intent_id";
    /// An outbox message (notification), also its delivery dedup id.
    MessageId = "message_id";
    /// An audit-log entry.
    AuditEntryId = "audit_entry_id";
}

fn uuid_v7(now: OffsetDateTime, random: [u8; 10]) -> Uuid {
    // Instants before 1970 cannot occur for a real clock; clamp instead of failing.
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn ids_are_version_7_and_round_trip() {
        let id = OrderId::new(datetime!(2026-11-23 12:00 UTC), [7; 10]);
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert_eq!(OrderId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(
            OrderId::parse("nope").unwrap_err().field(),
            Some("order_id")
        );
    }

    proptest! {
        #[test]
        fn later_ids_sort_after_earlier_ids(a in 0i64..4_000_000_000, d in 1i64..1_000_000, r1: [u8; 10], r2: [u8; 10]) {
            let t1 = OffsetDateTime::from_unix_timestamp(a).unwrap();
            let t2 = OffsetDateTime::from_unix_timestamp(a + d).unwrap();
            prop_assert!(UserId::new(t1, r1) < UserId::new(t2, r2));
        }
    }
}
