//! The ports a [`crate::Portal`] needs besides its store (DESIGN §1). They are required: a host
//! passes its own, or [`Ports::development`] (stand-ins that mark their data `test_mode`).

use std::sync::Arc;

use selfcare_storage::ports::{Clock, HumanVerifier, Network, Notifier, PaymentGateway};

/// The service ports of a portal.
#[derive(Clone)]
pub struct Ports {
    /// Card verification, charges and refunds.
    pub gateway: Arc<dyn PaymentGateway>,
    /// Delivery of rendered notifications from the outbox.
    pub notifier: Arc<dyn Notifier>,
    /// The captcha check of customer-channel actions (AUTH-5).
    pub verifier: Arc<dyn HumanVerifier>,
    /// SIM swaps, voicemail, call forwarding, APN, usage read-out.
    pub network: Arc<dyn Network>,
    /// The current time.
    pub clock: Arc<dyn Clock>,
    /// Whether these are development stand-ins: everything they touch is marked `test_mode`.
    pub test_mode: bool,
}

impl Ports {
    /// Production ports supplied by the host.
    pub fn new(
        gateway: Arc<dyn PaymentGateway>,
        notifier: Arc<dyn Notifier>,
        verifier: Arc<dyn HumanVerifier>,
        network: Arc<dyn Network>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Ports {
            gateway,
            notifier,
            verifier,
            network,
            clock,
            test_mode: false,
        }
    }
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("test_mode", &self.test_mode)
            .finish_non_exhaustive()
    }
}
