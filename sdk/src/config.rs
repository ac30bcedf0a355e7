//! `PortalConfig`: everything a provider configures, with documented defaults (DESIGN §1).

use selfcare_core::audit::HostKey;
use selfcare_core::catalogue::{Catalogue, Seller};
use selfcare_core::customer::VolumeLimitSteps;
use selfcare_core::notifications::{DeliveryPolicy, TextOverrides};
use selfcare_core::orders::InvoiceNumbering;
use selfcare_core::password::PasswordParams;
use selfcare_core::quota::{DEFAULT_THRESHOLDS, Percent};
use selfcare_core::throttle::ThrottlePolicy;
use selfcare_core::tokens::TokenLifetimes;
use time::{Duration, UtcOffset};

use crate::error::{Error, Result};

/// The provider's configuration of a [`crate::Portal`].
///
/// Build it with [`PortalConfig::new`] (the seller and the host key have no sensible default)
/// and change the public fields you need; every other field has the default documented on it.
pub struct PortalConfig {
    /// The seller on invoices; its country decides reverse charge (ORD-2).
    pub seller: Seller,
    /// Products, prices and VAT rates. Default: [`Catalogue::example`].
    pub catalogue: Catalogue,
    /// Invoice numbers. Default: `INV-{year}-{000000}`.
    pub invoice_numbering: InvoiceNumbering,
    /// The offset of the provider's time zone, for plan dates and the month of volume limits.
    /// Default: UTC.
    pub time_zone: UtcOffset,
    /// Volume notification thresholds, as percent of the volume left. Default: 20 % and 0 %.
    pub volume_thresholds: Vec<Percent>,
    /// The monthly volume limit steps (ACC-5). Default: data 1 000 / 5 000 / 10 000 / 50 000 MB /
    /// unlimited, SMS 100 / 500 / 1 000 / unlimited.
    pub volume_limit_steps: VolumeLimitSteps,
    /// Session and token lifetimes. Default: session idle 30 min, absolute 12 h; reset 30 min;
    /// e-mail confirmation 24 h; approval and invitation 72 h.
    pub token_lifetimes: TokenLifetimes,
    /// Login throttling (AUTH-3). Default: 1 s doubling to at most 15 min, counters kept 24 h.
    pub throttle: ThrottlePolicy,
    /// Argon2id cost. Default: [`PasswordParams::owasp`]; tests use
    /// [`PasswordParams::testing`].
    pub password_params: PasswordParams,
    /// Host overrides of notification texts (ACC-4). Default: none (built-in texts).
    pub texts: TextOverrides,
    /// The issuer shown in authenticator apps (AUTH-6). Default: the seller's name.
    pub totp_issuer: String,
    /// Outbox delivery: lease 5 min, 8 attempts, retry after 30 s doubling to at most 6 h, 100
    /// messages per dispatch run.
    pub delivery: DeliveryPolicy,
    /// How long a SIM swap may wait for the network before `run_maintenance` gives it up and
    /// keeps the old SIM (PLAN-2). Default: 1 hour.
    pub provisioning_timeout: Duration,
    host_key: HostKey,
}

impl PortalConfig {
    /// A configuration for `seller` with the audit/TOTP host key `host_key` (32 to 64 bytes,
    /// kept outside the database) and every other setting at its default.
    ///
    /// # Errors
    /// [`Error::Validation`] on `host_key` when it is not 32 to 64 bytes long.
    pub fn new(seller: Seller, host_key: &[u8]) -> Result<Self> {
        let host_key = HostKey::from_bytes(host_key).map_err(Error::from)?;
        Ok(PortalConfig {
            totp_issuer: seller.name().to_owned(),
            seller,
            catalogue: Catalogue::example(),
            invoice_numbering: InvoiceNumbering::default(),
            time_zone: UtcOffset::UTC,
            volume_thresholds: DEFAULT_THRESHOLDS.to_vec(),
            volume_limit_steps: VolumeLimitSteps::default(),
            token_lifetimes: TokenLifetimes::default(),
            throttle: ThrottlePolicy::default(),
            password_params: PasswordParams::owasp(),
            texts: TextOverrides::default(),
            delivery: DeliveryPolicy::default(),
            provisioning_timeout: selfcare_core::plans::DEFAULT_SWAP_TIMEOUT,
            host_key,
        })
    }

    /// The host key of the audit chain and TOTP secrets.
    pub fn host_key(&self) -> &HostKey {
        &self.host_key
    }
}

impl std::fmt::Debug for PortalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The host key never prints; the rest is configuration, not personal data.
        f.debug_struct("PortalConfig")
            .field("seller", &self.seller)
            .field("time_zone", &self.time_zone)
            .field("volume_thresholds", &self.volume_thresholds)
            .field("token_lifetimes", &self.token_lifetimes)
            .field("password_params", &self.password_params)
            .field("delivery", &self.delivery)
            .field("provisioning_timeout", &self.provisioning_timeout)
            .field("host_key", &"***")
            .finish_non_exhaustive()
    }
}
