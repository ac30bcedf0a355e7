//! The customer's own data through a session (ACC-1..ACC-5): the customer record, self-service
//! changes with the legal fields kept immutable, additional contact e-mails, the contact
//! language and the monthly volume limits.
//!
//! Owners and Admins may do all of this; Users and ReadOnly users may not even read it (USR-4,
//! the permission table of `selfcare-core`). None of these calls takes a captcha: AUTH-5 names
//! profile changes and card saves only.
//!
//! ```no_run
//! # async fn demo(session: selfcare::Session) -> selfcare::Result<()> {
//! use selfcare::core::customer::{CustomerUpdate, EmailCategory};
//! let view = session.customer().await?;
//! let update = CustomerUpdate { vat_id: Some(Some("DE 987 654 321".into())), ..Default::default() };
//! let view = session.update_customer(&update, Some(view.version)).await?;
//! println!("{:?}", view.customer.recipients(EmailCategory::Invoice));
//! # Ok(()) }
//! ```

use selfcare_core::audit::{
    AuditActor, AuditEventName, Outcome, PERSONAL_VALUE_MAX, PersonalField, PersonalValues,
};
use selfcare_core::contact::{Email, Language};
use selfcare_core::customer::{
    AdditionalEmail, ContactEmails, Customer, CustomerKind, CustomerUpdate, Limit,
    MonthlyVolumeLimits, VolumeLimitSteps,
};
use selfcare_core::policy::{Action, Actor};
use selfcare_core::{Error as CoreError, ReasonCode};
use selfcare_storage::accounts::CustomerRecord;
use selfcare_storage::{OrgTransaction, Version, Versioned};

use crate::error::{Error, Result};
use crate::portal::{Attempt, fields, target};
use crate::session::Session;

/// The customer record as a session sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerView {
    /// Business or individual, names, contacts, billing country and language (ACC-1..ACC-4).
    pub customer: Customer,
    /// The monthly volume limits of all SIMs (ACC-5).
    pub volume_limits: MonthlyVolumeLimits,
    /// Whether every user must have a second factor (AUTH-6).
    pub second_factor_required: bool,
    /// Whether development ports touched the organisation (not production data).
    pub test_mode: bool,
    /// The version of the record; pass it to [`Session::update_customer`] so a change made
    /// meanwhile by someone else is a `Conflict` rather than silently overwritten.
    pub version: Version,
}

impl CustomerView {
    fn of(record: CustomerRecord, version: Version) -> Self {
        CustomerView {
            customer: record.customer,
            volume_limits: record.volume_limits,
            second_factor_required: record.second_factor_required,
            test_mode: record.test_mode,
            version,
        }
    }
}

/// The monthly volume limits and the steps they can be chosen from (ACC-5).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeLimitsView {
    /// The limits chosen now.
    pub limits: MonthlyVolumeLimits,
    /// The configured steps (`PortalConfig::volume_limit_steps`).
    pub steps: VolumeLimitSteps,
}

impl Session {
    /// The customer record of the session's organisation (ACC-1..ACC-5).
    ///
    /// # Errors
    /// `PermissionDenied` for User and ReadOnly (USR-4); `Unauthenticated` when the session
    /// ended; `NotFound` when the organisation has no customer record; `Unavailable`.
    pub async fn customer(&self) -> Result<CustomerView> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewCustomer).await?;
            let current = current_customer(tx.as_mut()).await?;
            tx.commit().await?;
            Ok(CustomerView::of(current.value, current.version))
        })
        .await
    }

    /// Changes customer data through self-service (ACC-1): the VAT id (businesses), the name
    /// (individuals), the main contact e-mail (ACC-2) and the contact language (ACC-4).
    ///
    /// The company name and the billing country are legal fields: resubmitting the current
    /// value is accepted, any other value is refused with `ImmutableField` and a message to
    /// contact support, and the refused attempt is audited. Changes are audited as
    /// `customer_updated` with the names of the changed fields (old and new names and main
    /// contact e-mails as erasable personal values). An update that changes nothing writes
    /// nothing.
    ///
    /// `expected_version` is the [`CustomerView::version`] the caller's form was built from;
    /// `None` applies the update to whatever is stored now.
    ///
    /// # Errors
    /// `ImmutableField` (`legal_field_immutable`) on `company_name` or `billing_country`;
    /// `Validation` naming the field; `Conflict(stale_version)` when the record changed since
    /// `expected_version`; `PermissionDenied` for User and ReadOnly (USR-4); `Unauthenticated`;
    /// `NotFound`; `Unavailable`.
    pub async fn update_customer(
        &self,
        update: &CustomerUpdate,
        expected_version: Option<Version>,
    ) -> Result<CustomerView> {
        let portal = self.portal();
        // An attempt ends `Ok(Err(..))` when a legal field was refused: its audit entry
        // committed, and the refusal must still reach the caller.
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::UpdateCustomer).await?;
            let current = current_customer(tx.as_mut()).await?;
            if expected_version.is_some_and(|v| v != current.version) {
                return Err(stale());
            }
            let changed = match current.value.customer.apply_update(update) {
                Ok(changed) => changed,
                Err(e @ CoreError::ImmutableField { .. }) => {
                    // Only the audit entry of the refused attempt commits (AUD-1).
                    let field = e.field().unwrap_or("customer").to_owned();
                    let mut event = self.event(
                        &actor,
                        AuditEventName::CustomerUpdated,
                        Outcome::Failure,
                        &[field.as_str()],
                    )?;
                    event.reason = Some(e.reason());
                    portal.audit(tx.as_mut(), event).await?;
                    tx.commit().await?;
                    return Ok(Err(Error::from(e)));
                }
                Err(e) => return Err(e.into()),
            };
            if changed.changed_fields.is_empty() {
                tx.commit().await?;
                return Ok(Ok(CustomerView::of(current.value, current.version)));
            }
            let personal = changed_personal(portal, &current.value.customer, &changed.customer)?;
            let next = CustomerRecord {
                customer: changed.customer,
                ..current.value
            };
            let version = self
                .save(
                    tx.as_mut(),
                    &actor,
                    next.clone(),
                    current.version,
                    AuditEventName::CustomerUpdated,
                    &changed.changed_fields,
                    personal,
                )
                .await?;
            tx.commit().await?;
            Ok(Ok(CustomerView::of(next, version)))
        })
        .await?
    }

    /// The main contact and the additional contact e-mails with their categories (ACC-2,
    /// ACC-3).
    ///
    /// # Errors
    /// As [`Session::customer`].
    pub async fn contact_emails(&self) -> Result<ContactEmails> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewContactEmails)
                .await?;
            let current = current_customer(tx.as_mut()).await?;
            tx.commit().await?;
            Ok(current.value.customer.contact_emails().clone())
        })
        .await
    }

    /// Replaces the additional contact e-mails (ACC-3): at most 10, each with at least one
    /// category, none twice (case-insensitively) and none equal to the main contact. Audited
    /// as `contact_emails_changed`, with the added and removed addresses as erasable personal
    /// values (a new invoice recipient is worth tracing).
    ///
    /// # Errors
    /// `Validation` with `too_many_contact_emails`, `contact_email_duplicate` or
    /// `contact_email_is_main` naming the entry; `PermissionDenied` for User and ReadOnly;
    /// `Unauthenticated`; `NotFound`; `Unavailable`.
    pub async fn set_contact_emails(
        &self,
        additional: Vec<AdditionalEmail>,
    ) -> Result<ContactEmails> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self
                .authorize(tx.as_mut(), Action::SetContactEmails)
                .await?;
            let current = current_customer(tx.as_mut()).await?;
            let before = current.value.customer.contact_emails().clone();
            let changed = current
                .value
                .customer
                .set_additional_emails(additional.clone())?;
            let after = changed.customer.contact_emails().clone();
            if changed.changed_fields.is_empty() {
                tx.commit().await?;
                return Ok(after);
            }
            let added = joined(after.additional(), before.additional());
            let removed = joined(before.additional(), after.additional());
            let personal = portal.personal([
                (PersonalField::NewEmail, added.as_str()),
                (PersonalField::OldEmail, removed.as_str()),
            ])?;
            let next = CustomerRecord {
                customer: changed.customer,
                ..current.value
            };
            self.save(
                tx.as_mut(),
                &actor,
                next,
                current.version,
                AuditEventName::ContactEmailsChanged,
                &changed.changed_fields,
                personal,
            )
            .await?;
            tx.commit().await?;
            Ok(after)
        })
        .await
    }

    /// Sets the contact language of e-mails, invoices and notifications from a BCP 47 tag
    /// (ACC-4: English, German or Hebrew; a region such as `de-AT` is accepted and ignored).
    /// Audited as `customer_updated` with the field `language`.
    ///
    /// # Errors
    /// `Validation` on `language` (`language_unsupported`, `invalid_format`);
    /// `PermissionDenied` for User and ReadOnly; `Unauthenticated`; `NotFound`; `Unavailable`.
    pub async fn set_language(&self, tag: &str) -> Result<Language> {
        let portal = self.portal();
        let update = CustomerUpdate {
            language: Some(tag.to_owned()),
            ..CustomerUpdate::default()
        };
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::SetLanguage).await?;
            let current = current_customer(tx.as_mut()).await?;
            let changed = current.value.customer.apply_update(&update)?;
            let language = changed.customer.language();
            if !changed.changed_fields.is_empty() {
                let next = CustomerRecord {
                    customer: changed.customer,
                    ..current.value
                };
                self.save(
                    tx.as_mut(),
                    &actor,
                    next,
                    current.version,
                    AuditEventName::CustomerUpdated,
                    &changed.changed_fields,
                    PersonalValues::none(),
                )
                .await?;
            }
            tx.commit().await?;
            Ok(language)
        })
        .await
    }

    /// The monthly volume limits and the configured steps to choose from (ACC-5).
    ///
    /// # Errors
    /// As [`Session::customer`].
    pub async fn volume_limits(&self) -> Result<VolumeLimitsView> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewVolumeLimits)
                .await?;
            let current = current_customer(tx.as_mut()).await?;
            tx.commit().await?;
            Ok(VolumeLimitsView {
                limits: current.value.volume_limits,
                steps: portal.config().volume_limit_steps.clone(),
            })
        })
        .await
    }

    /// Chooses the monthly data (MB) and SMS limits of all SIMs from the configured steps
    /// (ACC-5, `PortalConfig::volume_limit_steps`). Audited as `volume_limits_changed` with the
    /// fields that changed.
    ///
    /// # Errors
    /// `Validation` on `data_mb` or `sms` with `volume_limit_not_a_step`; `PermissionDenied`
    /// for User and ReadOnly; `Unauthenticated`; `NotFound`; `Unavailable`.
    pub async fn set_volume_limits(
        &self,
        data_mb: Limit,
        sms: Limit,
    ) -> Result<MonthlyVolumeLimits> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::SetVolumeLimits).await?;
            let limits =
                MonthlyVolumeLimits::new(data_mb, sms, &portal.config().volume_limit_steps)?;
            let current = current_customer(tx.as_mut()).await?;
            let old = current.value.volume_limits;
            let mut changed = Vec::new();
            if old.data_mb() != limits.data_mb() {
                changed.push("data_mb");
            }
            if old.sms() != limits.sms() {
                changed.push("sms");
            }
            if !changed.is_empty() {
                let next = CustomerRecord {
                    volume_limits: limits,
                    ..current.value
                };
                self.save(
                    tx.as_mut(),
                    &actor,
                    next,
                    current.version,
                    AuditEventName::VolumeLimitsChanged,
                    &changed,
                    PersonalValues::none(),
                )
                .await?;
            }
            tx.commit().await?;
            Ok(limits)
        })
        .await
    }

    /// Writes the customer row with the version it was read at and its audit entry, in `tx`.
    #[allow(clippy::too_many_arguments)]
    async fn save(
        &self,
        tx: &mut dyn OrgTransaction,
        actor: &Actor,
        next: CustomerRecord,
        expected: Version,
        event: AuditEventName,
        changed_fields: &[&str],
        personal: PersonalValues,
    ) -> std::result::Result<Version, Attempt> {
        let version = tx.update_customer(next, expected).await?;
        let mut entry = self.event(actor, event, Outcome::Success, changed_fields)?;
        entry.personal = personal;
        self.portal().audit(tx, entry).await?;
        Ok(version)
    }

    /// An audit event about the organisation's customer record by `actor`.
    fn event(
        &self,
        actor: &Actor,
        event: AuditEventName,
        outcome: Outcome,
        changed_fields: &[&str],
    ) -> Result<selfcare_core::audit::AuditEvent> {
        let mut entry = self.portal().audit_event(
            Some(self.org()),
            AuditActor::User { id: actor.user },
            actor.channel,
            event,
            target("customer", self.org())?,
            outcome,
        )?;
        entry.changed_fields = fields(changed_fields)?;
        Ok(entry)
    }
}

/// The organisation's customer row, read with its version.
async fn current_customer(
    tx: &mut dyn OrgTransaction,
) -> std::result::Result<Versioned<CustomerRecord>, Attempt> {
    tx.customer().await?.ok_or(Attempt::Fail(Error::NotFound))
}

fn stale() -> Attempt {
    Attempt::Fail(Error::Conflict {
        reason: ReasonCode::StaleVersion,
    })
}

/// Old and new person names and main contacts of a self-service change, for the audit log's
/// erasable personal values.
fn changed_personal(
    portal: &crate::Portal,
    before: &Customer,
    after: &Customer,
) -> Result<PersonalValues> {
    let name = |c: &Customer| match c.kind() {
        CustomerKind::Individual { name } => Some(name.as_str().to_owned()),
        CustomerKind::Business { .. } => None,
    };
    let (old_name, new_name) = match (name(before), name(after)) {
        (Some(old), Some(new)) if old != new => (old, new),
        _ => (String::new(), String::new()),
    };
    // Compared as written: a case-only edit is a change of what is shown and sent.
    let (old_email, new_email) = if before.main_contact().as_str() == after.main_contact().as_str()
    {
        ("", "")
    } else {
        (
            before.main_contact().as_str(),
            after.main_contact().as_str(),
        )
    };
    portal.personal([
        (PersonalField::OldName, old_name.as_str()),
        (PersonalField::NewName, new_name.as_str()),
        (PersonalField::OldEmail, old_email),
        (PersonalField::NewEmail, new_email),
    ])
}

/// The addresses of `these` that `those` lacks, comma-separated, cut to what a personal value
/// may hold (empty values are left out of the entry).
fn joined(these: &[AdditionalEmail], those: &[AdditionalEmail]) -> String {
    let lacks = |e: &Email| !those.iter().any(|o| o.email() == e);
    let list = these
        .iter()
        .map(AdditionalEmail::email)
        .filter(|e| lacks(e))
        .map(Email::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    list.chars().take(PERSONAL_VALUE_MAX).collect()
}
