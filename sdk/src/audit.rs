//! The audit log (AUD-1): its head for the host to anchor outside the database, verification
//! of a chain against such an anchor, and the organisation's own log for its Owners and Admins.
//!
//! Entries are written by the use cases themselves (inside their transactions, or in a
//! transaction of their own for failures and denials); nothing here writes one.

use selfcare_core::audit::{AuditEntry, ChainBreak, ChainHead, ChainVerifier};
use selfcare_core::ids::OrgId;
use selfcare_core::policy::Action;
use selfcare_storage::page::{Page, PageRequest};

use crate::error::Result;
use crate::portal::Portal;
use crate::session::Session;

/// How many entries verification reads per transaction.
const VERIFY_PAGE: u32 = 500;

/// Which chain: an organisation's, or the provider's own (events of no organisation, such as
/// a login attempt for an unknown e-mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "type",
    content = "org",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum AuditChainOf {
    /// The organisation's chain.
    Organisation(OrgId),
    /// The provider's chain.
    Provider,
}

/// The outcome of [`Portal::verify_audit_chain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "result", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChainVerification {
    /// Every entry is there, in order, unchanged; the verified head.
    Intact {
        /// The head the entries lead to.
        head: ChainHead,
    },
    /// The chain was changed, shortened, or has entries missing or out of order.
    Broken {
        /// Where and how.
        at: ChainBreak,
    },
}

impl Portal {
    /// The head of a chain (the number of entries and the last MAC). Store it outside the
    /// database (a log service, a signed timestamp): a later [`Portal::verify_audit_chain`]
    /// with it as anchor detects a truncated or rewritten chain.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot answer.
    pub async fn audit_head(&self, chain: AuditChainOf) -> Result<ChainHead> {
        self.retry(|| async {
            let head = match chain {
                AuditChainOf::Organisation(org) => {
                    let mut tx = self.store().begin(org).await?;
                    let head = tx.audit_head().await?;
                    tx.commit().await?;
                    head
                }
                AuditChainOf::Provider => {
                    let mut tx = self.store().begin_provider().await?;
                    let head = tx.audit_head().await?;
                    tx.commit().await?;
                    head
                }
            };
            Ok(head)
        })
        .await
    }

    /// Verifies a chain from its first entry with the host key, page by page (memory does not
    /// grow with the log). With `anchor` (a head taken earlier by [`Portal::audit_head`]) it
    /// also detects a chain cut back below the anchor or rewritten up to it. Erased personal
    /// values do not break it (their hash stays).
    ///
    /// ```no_run
    /// # async fn demo(portal: selfcare::Portal, org: selfcare::core::ids::OrgId) -> selfcare::Result<()> {
    /// use selfcare::audit::{AuditChainOf, ChainVerification};
    /// let anchored = portal.audit_head(AuditChainOf::Organisation(org)).await?;
    /// // … later …
    /// match portal.verify_audit_chain(AuditChainOf::Organisation(org), Some(anchored)).await? {
    ///     ChainVerification::Intact { head } => println!("{} entries verified", head.count),
    ///     ChainVerification::Broken { at } => eprintln!("audit log tampered with: {at}"),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Unavailable` when the store cannot answer; a broken chain is an outcome, not an error.
    pub async fn verify_audit_chain(
        &self,
        chain: AuditChainOf,
        anchor: Option<ChainHead>,
    ) -> Result<ChainVerification> {
        let mut verifier = ChainVerifier::new(self.config().host_key(), anchor);
        let mut page = PageRequest::first(VERIFY_PAGE);
        loop {
            let Page { items, next } = self.audit_page(chain, &page).await?;
            for entry in &items {
                if let Err(at) = verifier.push(entry) {
                    return Ok(ChainVerification::Broken { at });
                }
            }
            match next {
                Some(cursor) if !items.is_empty() => page = PageRequest::after(cursor, VERIFY_PAGE),
                _ => break,
            }
        }
        Ok(match verifier.finish() {
            Ok(head) => ChainVerification::Intact { head },
            Err(at) => ChainVerification::Broken { at },
        })
    }

    async fn audit_page(
        &self,
        chain: AuditChainOf,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>> {
        self.retry(|| async {
            let entries = match chain {
                AuditChainOf::Organisation(org) => {
                    let mut tx = self.store().begin(org).await?;
                    let entries = tx.audit_entries(page.clone()).await?;
                    tx.commit().await?;
                    entries
                }
                AuditChainOf::Provider => {
                    let mut tx = self.store().begin_provider().await?;
                    let entries = tx.audit_entries(page.clone()).await?;
                    tx.commit().await?;
                    entries
                }
            };
            Ok(entries)
        })
        .await
    }
}

impl Session {
    /// The organisation's audit log in chain order, a page at a time (AUD-1): who did what,
    /// when, through which channel, with what outcome. Secrets are never in it.
    ///
    /// # Errors
    /// `PermissionDenied` for roles that may not read it (only Owner and Admin may);
    /// `Validation` for a page limit out of range; `Unauthenticated(SessionExpired)`;
    /// `Unavailable`.
    pub async fn audit_log(&self, page: PageRequest) -> Result<Page<AuditEntry>> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewAuditLog).await?;
            let entries = tx.audit_entries(page.clone()).await?;
            tx.commit().await?;
            Ok(entries)
        })
        .await
    }
}
