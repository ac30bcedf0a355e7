//! The organisation's SIMs on a [`Session`] (SIM-2): list them, label them, enable or disable
//! them. The label rule and the status switch are decided in `selfcare_core::sims`, who may
//! do what in `selfcare_core::policy` (ReadOnly may look, not change).
//!
//! Enabling or disabling is a store change only: the `Network` port has no operation for it,
//! so the network learns the status from the provider's own provisioning of the store.
//! An unchanged label or status writes nothing and audits nothing.

use selfcare_core::audit::{AuditActor, AuditEventName, Outcome};
use selfcare_core::ids::SimId;
use selfcare_core::policy::{Action, Actor};
use selfcare_core::sims::{Sim, SimStatus};
use selfcare_storage::sims::SimFilter;
use selfcare_storage::{Cursor, OrgTransaction, Page, PageRequest};

use crate::error::{Error, Result};
use crate::portal::{Attempt, fields, target};
use crate::session::Session;

/// How many SIMs one page of [`Session::sims`] holds.
pub const SIM_PAGE: u32 = 100;

impl Session {
    /// One page of the organisation's SIMs matching `filter` (by order, by status), in the
    /// order they were assigned; pass the page's `next` back as `cursor` for the next page.
    ///
    /// # Errors
    /// `Validation` on `cursor` for a cursor this store did not produce; `PermissionDenied`;
    /// `Unauthenticated`; `Unavailable`.
    pub async fn sims(&self, filter: SimFilter, cursor: Option<Cursor>) -> Result<Page<Sim>> {
        let portal = self.portal();
        let page = PageRequest {
            after: cursor,
            limit: SIM_PAGE,
        };
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewSims).await?;
            let listed = tx.list_sims(&filter, &page).await?;
            tx.commit().await?;
            Ok(Page {
                items: listed.items.into_iter().map(|r| r.value).collect(),
                next: listed.next,
            })
        })
        .await
    }

    /// Sets the label of the SIM `sim` (SIM-2: at most 64 characters, no line breaks; empty
    /// clears it) and returns the SIM.
    ///
    /// # Errors
    /// `Validation` on `label` (`too_long`, `invalid_format`); `NotFound` for a SIM not of
    /// this organisation; `PermissionDenied` (ReadOnly); `Unauthenticated`; `Unavailable`.
    pub async fn set_sim_label(&self, sim: SimId, label: &str) -> Result<Sim> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::SetSimLabel).await?;
            let stored = tx.sim(sim).await?.ok_or(Error::NotFound)?;
            let mut changed_sim = stored.value;
            if changed_sim.set_label(label)? {
                tx.update_sim(changed_sim.clone(), stored.version).await?;
                self.audit_sim(
                    tx.as_mut(),
                    &actor,
                    AuditEventName::SimLabelChanged,
                    sim,
                    &["label"],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(changed_sim)
        })
        .await
    }

    /// Enables or disables the SIM `sim` (SIM-2: Owner, Admin, User and ApiUser may; ReadOnly
    /// may not) and returns the SIM.
    ///
    /// # Errors
    /// `NotFound` for a SIM not of this organisation; `PermissionDenied` (ReadOnly);
    /// `Unauthenticated`; `Unavailable`.
    pub async fn set_sim_enabled(&self, sim: SimId, enabled: bool) -> Result<Sim> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::SetSimEnabled).await?;
            let stored = tx.sim(sim).await?.ok_or(Error::NotFound)?;
            let mut changed_sim = stored.value;
            if changed_sim.set_status(SimStatus::from_enabled(enabled)) {
                tx.update_sim(changed_sim.clone(), stored.version).await?;
                let event = if enabled {
                    AuditEventName::SimEnabled
                } else {
                    AuditEventName::SimDisabled
                };
                self.audit_sim(tx.as_mut(), &actor, event, sim, &["status"])
                    .await?;
            }
            tx.commit().await?;
            Ok(changed_sim)
        })
        .await
    }

    async fn audit_sim(
        &self,
        tx: &mut dyn OrgTransaction,
        actor: &Actor,
        name: AuditEventName,
        sim: SimId,
        changed: &[&str],
    ) -> std::result::Result<(), Attempt> {
        let portal = self.portal();
        let mut event = portal.audit_event(
            Some(self.org()),
            AuditActor::User { id: actor.user },
            actor.channel,
            name,
            target("sim", sim)?,
            Outcome::Success,
        )?;
        event.changed_fields = fields(changed)?;
        portal.audit(tx, event).await?;
        Ok(())
    }
}
