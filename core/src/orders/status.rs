//! Order types and the order status state machine (ORD-1).

use std::fmt;

use crate::error::{Error, ReasonCode, Result};

/// What an order is (ORD-1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    /// The organisation's first order of SIMs.
    FirstOrder,
    /// A later order of SIMs.
    AdditionalOrder,
    /// A top-up of one SIM (TOP-1).
    TopUp,
    /// A top-up of several SIMs at once (TOP-1).
    BulkTopUp,
    /// A consumer plan.
    Plan,
}

impl OrderType {
    /// Every value.
    pub const ALL: [OrderType; 5] = [
        OrderType::FirstOrder,
        OrderType::AdditionalOrder,
        OrderType::TopUp,
        OrderType::BulkTopUp,
        OrderType::Plan,
    ];

    /// The stable snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderType::FirstOrder => "first_order",
            OrderType::AdditionalOrder => "additional_order",
            OrderType::TopUp => "top_up",
            OrderType::BulkTopUp => "bulk_top_up",
            OrderType::Plan => "plan",
        }
    }
}

impl fmt::Display for OrderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OrderType {
    /// The type of an order of SIM cards: the first one an organisation places, or a later one.
    pub fn for_sim_order(previous_orders: u64) -> OrderType {
        if previous_orders == 0 {
            OrderType::FirstOrder
        } else {
            OrderType::AdditionalOrder
        }
    }
}

/// The status of an order (ORD-1). A refund never reopens an order: it is a credit note
/// (ORD-2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed and paid (or on invoice); being prepared or shipped.
    InPreparation,
    /// Done. Final.
    Completed,
    /// Cancelled. Final.
    Cancelled,
}

impl OrderStatus {
    /// The stable snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::InPreparation => "in_preparation",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 3] = [
        OrderStatus::InPreparation,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];

    /// Whether nothing can leave this status.
    pub fn is_final(self) -> bool {
        !matches!(self, OrderStatus::InPreparation)
    }

    /// Checks a status change: only InPreparation→Completed and InPreparation→Cancelled are
    /// allowed. Setting the current status again is not a change and is refused too, so a
    /// repeated "complete" is reported rather than silently accepted twice.
    ///
    /// # Errors
    /// [`Error::Conflict`] with `IllegalOrderTransition` for every other pair.
    pub fn transition(from: OrderStatus, to: OrderStatus) -> Result<()> {
        match (from, to) {
            (OrderStatus::InPreparation, OrderStatus::Completed | OrderStatus::Cancelled) => Ok(()),
            _ => Err(Error::conflict(ReasonCode::IllegalOrderTransition)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ord_1_order_type_names_are_the_serde_names() {
        for value in OrderType::ALL {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", value.as_str()));
            assert_eq!(value.to_string(), value.as_str());
        }
    }

    #[test]
    fn ord_1_order_status_names_are_the_serde_names() {
        for value in OrderStatus::ALL {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", value.as_str()));
            assert_eq!(value.to_string(), value.as_str());
        }
    }
    use proptest::prelude::*;

    #[test]
    fn ord_1_status_transition_table_is_exhaustive() {
        use OrderStatus::*;
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let allowed = matches!(
                    (from, to),
                    (InPreparation, Completed) | (InPreparation, Cancelled)
                );
                let got = OrderStatus::transition(from, to);
                if allowed {
                    assert_eq!(got, Ok(()), "{from:?} -> {to:?}");
                } else {
                    assert_eq!(
                        got,
                        Err(Error::conflict(ReasonCode::IllegalOrderTransition)),
                        "{from:?} -> {to:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn ord_1_order_type_of_sim_orders() {
        assert_eq!(OrderType::for_sim_order(0), OrderType::FirstOrder);
        assert_eq!(OrderType::for_sim_order(3), OrderType::AdditionalOrder);
    }

    fn status() -> impl Strategy<Value = OrderStatus> {
        prop::sample::select(OrderStatus::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn ord_1_no_sequence_reaches_an_illegal_transition(attempts in prop::collection::vec(status(), 0..20)) {
            let mut current = OrderStatus::InPreparation;
            for to in attempts {
                let before = current;
                if OrderStatus::transition(current, to).is_ok() {
                    current = to;
                }
                // Every change made is one of the two allowed; a final status never changes.
                if before != current {
                    prop_assert_eq!(before, OrderStatus::InPreparation);
                    prop_assert!(current.is_final());
                }
                if before.is_final() {
                    prop_assert_eq!(before, current);
                }
            }
        }
    }
}
