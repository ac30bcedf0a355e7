//! Stored cards and Auto-Top-Up (PAY-1, PAY-2, PAY-3, AUTH-5) on a [`Session`].
//!
//! The organisation's cards, their plan assignments and the Auto-Top-Up switches are one
//! versioned aggregate, [`PaymentSettings`] in `selfcare-core`, which decides every rule. It is
//! the single source of truth for Auto-Top-Up: [`Sim::auto_top_up`](selfcare_core::sims::Sim)
//! is not written here, because "all SIMs" also covers SIMs delivered later and deleting the
//! last valid card switches everything off at once; readers ask
//! [`Session::auto_top_up_state`] (or `PaymentSettings::auto_top_up_enabled`).
//!
//! Saving a card parses the gateway token (a card number is refused before anything else),
//! checks the captcha on the portal channel (AUTH-5), asks the gateway to verify the token, and
//! only then opens the transaction that stores it: no port call runs inside a transaction. The
//! token never appears in a view, an error or an audit entry.

use std::collections::BTreeSet;

use selfcare_core::audit::{AuditActor, AuditEventName, Outcome};
use selfcare_core::ids::{CardId, PlanId, SimId};
use selfcare_core::payment::{
    AssignmentChange, AutoTopUpTarget, CardBrand, CardDeletionConsequence, CardExpiry, CardToken,
    PaymentSettings, StoredCard,
};
use selfcare_core::policy::{Action, Actor};
use selfcare_storage::{OrgTransaction, Version, Versioned};

use crate::error::{Error, Result};
use crate::portal::{Attempt, fields, target};
use crate::session::Session;

/// A stored card as a session sees it: never its gateway token.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardView {
    /// The card's id.
    pub id: CardId,
    /// Brand.
    pub brand: CardBrand,
    /// The last four digits.
    pub last4: String,
    /// Expiry.
    pub expiry: CardExpiry,
    /// The holder's name.
    pub holder_name: String,
    /// Whether the card may be charged today.
    pub valid: bool,
    /// The plans charged to this card (PAY-2).
    pub plans: BTreeSet<PlanId>,
}

/// Auto-Top-Up as it stands for one SIM (PAY-3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoTopUpState {
    /// The SIM.
    pub sim: SimId,
    /// Whether an exhausted quota of this SIM is topped up automatically.
    pub enabled: bool,
    /// Whether Auto-Top-Up is on organisation-wide (a SIM's own choice overrides it).
    pub all_sims: bool,
    /// The card automatic top-ups would be charged to now (the newest valid card).
    pub card: Option<CardId>,
}

fn view(settings: &PaymentSettings, card: &StoredCard, today: time::Date) -> CardView {
    CardView {
        id: card.id(),
        brand: card.brand(),
        last4: card.last4().as_str().to_owned(),
        expiry: card.expiry(),
        holder_name: card.holder_name().to_owned(),
        valid: card.is_valid(today),
        plans: settings.plans_of(card.id()),
    }
}

/// The organisation's settings with their version (`None` before the first card is saved).
async fn load(
    tx: &mut dyn OrgTransaction,
) -> std::result::Result<(PaymentSettings, Option<Version>), Attempt> {
    Ok(match tx.payment_settings().await? {
        Some(Versioned { value, version }) => (value, Some(version)),
        None => (PaymentSettings::new(), None),
    })
}

/// Writes `settings` read at `version` (inserting the first settings of the organisation).
async fn store(
    tx: &mut dyn OrgTransaction,
    settings: PaymentSettings,
    version: Option<Version>,
) -> std::result::Result<(), Attempt> {
    match version {
        Some(expected) => {
            tx.update_payment_settings(settings, expected).await?;
        }
        None => {
            tx.insert_payment_settings(settings).await?;
        }
    }
    Ok(())
}

impl Session {
    /// The stored cards, oldest first, with the plans charged to each (PAY-1, PAY-2).
    ///
    /// # Errors
    /// `PermissionDenied` for roles that may not manage cards (USR-4), `Unauthenticated`,
    /// `Unavailable`.
    pub async fn cards(&self) -> Result<Vec<CardView>> {
        let portal = self.portal();
        let today = portal.now().date();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewCards).await?;
            let (settings, _) = load(tx.as_mut()).await?;
            let cards = settings
                .cards()
                .iter()
                .map(|c| view(&settings, c, today))
                .collect();
            tx.commit().await?;
            Ok(cards)
        })
        .await
    }

    /// Saves a card from the payment gateway's token (PAY-1). On the portal channel a passed
    /// captcha is required (AUTH-5); the API channel needs none and ignores `captcha`.
    ///
    /// # Errors
    /// `Validation` on `token` (`card_number_not_accepted` for a card number, or malformed),
    /// on `captcha` (`required` when missing, `invalid_format` when the check failed), on
    /// `expiry` (`card_expired`) or `holder_name`; `Conflict(card_already_stored)`;
    /// `PermissionDenied` (USR-4); `Unavailable` when the verifier or gateway fails or refuses
    /// the token; `Unauthenticated`.
    pub async fn save_card(
        &self,
        token: String,
        holder_name: &str,
        captcha: Option<String>,
    ) -> Result<CardView> {
        let portal = self.portal();
        // A card number is refused before any port sees it.
        let token = CardToken::parse(&token).map_err(Error::from)?;
        // The permission and the channel, read in a short transaction of their own (rolled
        // back) so that no port call runs while a transaction is open.
        let channel = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (_, actor) = self.authorize(tx.as_mut(), Action::SaveCard).await?;
                Ok(actor.channel)
            })
            .await?;
        portal.check_captcha(channel, captcha.as_deref()).await?;
        let verified = portal.inner.ports.gateway.verify_card(&token).await?;
        let id = CardId::new(portal.now(), portal.random()?);
        let today = portal.now().date();
        let card = StoredCard::new(id, verified, holder_name, today).map_err(Error::from)?;
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::SaveCard).await?;
            let (mut settings, version) = load(tx.as_mut()).await?;
            settings.save_card(card.clone())?;
            let shown = view(&settings, &card, today);
            store(tx.as_mut(), settings, version).await?;
            self.audit_card(
                tx.as_mut(),
                &actor,
                AuditEventName::CardSaved,
                card.id(),
                &[],
            )
            .await?;
            tx.commit().await?;
            Ok(shown)
        })
        .await
    }

    /// Deletes a card (PAY-1). Returns what was turned off with it (plans without a card,
    /// Auto-Top-Up switched off when no valid card is left), for the caller to tell the
    /// customer: core has no notification kind for it, so nothing is put in the outbox.
    ///
    /// # Errors
    /// `NotFound` for an unknown card (or one of another organisation); `PermissionDenied`
    /// (USR-4); `Unauthenticated`; `Unavailable`.
    pub async fn delete_card(&self, id: CardId) -> Result<Vec<CardDeletionConsequence>> {
        let portal = self.portal();
        let today = portal.now().date();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::DeleteCard).await?;
            let (mut settings, version) = load(tx.as_mut()).await?;
            let consequences = settings.delete_card(id, today)?;
            store(tx.as_mut(), settings, version).await?;
            let mut changed = Vec::new();
            for c in &consequences {
                changed.push(match c {
                    CardDeletionConsequence::PlansUnassigned { .. } => "plan_cards",
                    CardDeletionConsequence::AutoTopUpDisabled { .. } => "auto_top_up",
                });
            }
            self.audit_card(
                tx.as_mut(),
                &actor,
                AuditEventName::CardDeleted,
                id,
                &changed,
            )
            .await?;
            tx.commit().await?;
            Ok(consequences)
        })
        .await
    }

    /// Makes `plans` exactly the plans charged to `card` (PAY-2); plans it paid for that are
    /// not listed lose their card.
    ///
    /// # Errors
    /// `NotFound` for an unknown card or a plan not of this organisation;
    /// `Conflict(card_expired)` when assigning plans to an expired card; `PermissionDenied`
    /// (USR-4); `Unauthenticated`; `Unavailable`.
    pub async fn assign_card_to_plans(
        &self,
        card: CardId,
        plans: BTreeSet<PlanId>,
    ) -> Result<AssignmentChange> {
        let portal = self.portal();
        let today = portal.now().date();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self
                .authorize(tx.as_mut(), Action::AssignCardToPlans)
                .await?;
            let mut known = BTreeSet::new();
            for plan in &plans {
                if tx.plan(*plan).await?.is_some() {
                    known.insert(*plan);
                }
            }
            let (mut settings, version) = load(tx.as_mut()).await?;
            let change = settings.assign_card_to_plans(card, &plans, &known, today)?;
            store(tx.as_mut(), settings, version).await?;
            self.audit_card(
                tx.as_mut(),
                &actor,
                AuditEventName::CardAssigned,
                card,
                &["plans"],
            )
            .await?;
            tx.commit().await?;
            Ok(change)
        })
        .await
    }

    /// Switches Auto-Top-Up for one SIM or all SIMs (PAY-3). Switching on needs a valid
    /// stored card; switching off is always allowed. Switching "all SIMs" clears the SIMs'
    /// own choices.
    ///
    /// # Errors
    /// `Conflict(no_valid_card)`; `NotFound` for a SIM not of this organisation;
    /// `PermissionDenied` (USR-4); `Unauthenticated`; `Unavailable`.
    pub async fn set_auto_top_up(&self, target: AutoTopUpTarget, enabled: bool) -> Result<()> {
        let portal = self.portal();
        let today = portal.now().date();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::SetAutoTopUp).await?;
            let audit_target = match target {
                AutoTopUpTarget::Sim(sim) => {
                    tx.sim(sim).await?.ok_or(Error::NotFound)?;
                    crate::portal::target("sim", sim)?
                }
                AutoTopUpTarget::AllSims => crate::portal::target("sims", "all")?,
            };
            let (mut settings, version) = load(tx.as_mut()).await?;
            settings.set_auto_top_up(target, enabled, today)?;
            store(tx.as_mut(), settings, version).await?;
            let mut event = portal.audit_event(
                Some(self.org()),
                AuditActor::User { id: actor.user },
                actor.channel,
                AuditEventName::AutoTopUpChanged,
                audit_target,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["auto_top_up"])?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Auto-Top-Up as it stands for `sim` (PAY-3 read-back).
    ///
    /// # Errors
    /// `NotFound` for a SIM not of this organisation; `PermissionDenied`; `Unauthenticated`;
    /// `Unavailable`.
    pub async fn auto_top_up_state(&self, sim: SimId) -> Result<AutoTopUpState> {
        let portal = self.portal();
        let today = portal.now().date();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewAutoTopUp).await?;
            tx.sim(sim).await?.ok_or(Error::NotFound)?;
            let (settings, _) = load(tx.as_mut()).await?;
            tx.commit().await?;
            Ok(AutoTopUpState {
                sim,
                enabled: settings.auto_top_up_enabled(sim),
                all_sims: settings.auto_top_up_all_sims(),
                card: settings.auto_top_up_card(today).map(StoredCard::id),
            })
        })
        .await
    }

    /// The audit entry of a card change: the card's id only, never its token.
    async fn audit_card(
        &self,
        tx: &mut dyn OrgTransaction,
        actor: &Actor,
        name: AuditEventName,
        card: CardId,
        changed: &[&str],
    ) -> std::result::Result<(), Attempt> {
        let portal = self.portal();
        let mut event = portal.audit_event(
            Some(self.org()),
            AuditActor::User { id: actor.user },
            actor.channel,
            name,
            target("card", card)?,
            Outcome::Success,
        )?;
        event.changed_fields = fields(changed)?;
        portal.audit(tx, event).await?;
        Ok(())
    }
}
