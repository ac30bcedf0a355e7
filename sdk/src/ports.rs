//! The ports a [`crate::Portal`] needs besides its store (DESIGN §1). They are required: a host
//! passes its own, or [`Ports::development`] (stand-ins that mark their data `test_mode`).

use std::sync::Arc;

use selfcare_storage::ports::{
    Clock, HumanVerifier, Network, Notifier, PaymentGateway, PortError, Randomness,
};

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
    /// Random bytes for ids, tokens, salts and nonces: the operating system's
    /// ([`OsRandomness`]) unless a test replays with a seeded source.
    pub randomness: Arc<dyn Randomness>,
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
            randomness: Arc::new(OsRandomness),
            test_mode: false,
        }
    }

    /// The same ports with another source of random bytes (tests that replay byte for byte
    /// use [`selfcare_storage::ports::SeededRandomness`]).
    #[must_use]
    pub fn with_randomness(mut self, randomness: Arc<dyn Randomness>) -> Self {
        self.randomness = randomness;
        self
    }
}

/// The operating system's random source (`getrandom`), the default of [`Ports`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandomness;

impl Randomness for OsRandomness {
    fn fill(&self, dest: &mut [u8]) -> Result<(), PortError> {
        getrandom::fill(dest).map_err(|_| PortError::Unavailable {
            reason: "the operating system's random source failed".to_owned(),
        })
    }
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("test_mode", &self.test_mode)
            .finish_non_exhaustive()
    }
}
