//! The organisation's address book (ADDR-1..ADDR-4) on a [`Session`]: read it, add, edit and
//! delete addresses, choose the defaults.
//!
//! The book is one versioned aggregate per organisation; every rule is decided by
//! [`AddressBook`] in `selfcare-core`. Each change runs in one transaction: the permission
//! check with the role re-read (USR-4), the organisation's legal identity read from its customer
//! record (ADDR-4), the new book written with the version it was read at, and the audit entry.
//!
//! Forms are filled from a read that may be old by the time they are sent. Every change takes
//! the version of the book the caller saw (`expected_version`, from
//! [`AddressBookView::version`]); when the book changed since, the change is refused with
//! `Conflict(stale_version)` and nothing is written, so one editor never silently undoes
//! another's work. `None` applies the change to the book as it is now.

use selfcare_core::ReasonCode;
use selfcare_core::address::{
    AddressBook, AddressEntry, AddressInput, AddressKind, AddressUsage, LegalIdentity,
    PostalAddress,
};
use selfcare_core::audit::{AuditActor, AuditEventName, Outcome};
use selfcare_core::customer::LegalName;
use selfcare_core::ids::AddressId;
use selfcare_core::policy::{Action, Actor};
use selfcare_storage::{OrgTransaction, Version, Versioned};

use crate::error::{Error, Result};
use crate::portal::{Attempt, fields, target};
use crate::session::Session;

/// The organisation's address book as a session sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressBookView {
    /// The book's version: pass it back as `expected_version` to change the book only if
    /// nobody changed it since. `0` while the organisation has no address book yet.
    pub version: u64,
    /// The addresses in the order they were added, each with its usage and default flags.
    pub entries: Vec<AddressEntry>,
}

impl AddressBookView {
    /// The entry with `id`.
    pub fn get(&self, id: AddressId) -> Option<&AddressEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The default entry for `kind`, if the book has an address of that kind (ADDR-2).
    pub fn default_for(&self, kind: AddressKind) -> Option<&AddressEntry> {
        self.entries.iter().find(|e| e.is_default(kind))
    }

    fn of(book: &AddressBook, version: Option<Version>) -> Self {
        AddressBookView {
            version: version.map_or(0, |v| v.0),
            entries: book.entries().to_vec(),
        }
    }
}

/// What [`Session::add_address`] created: the new entry's id and the book after the change.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedAddress {
    /// The id of the new address.
    pub id: AddressId,
    /// The address book with the new address.
    pub book: AddressBookView,
}

impl Session {
    /// The organisation's address book (ADDR-1, ADDR-2); empty with version 0 before the first
    /// address.
    ///
    /// # Errors
    /// `PermissionDenied` for roles that may not view addresses (USR-4);
    /// `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn addresses(&self) -> Result<AddressBookView> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewAddresses).await?;
            let stored = tx.address_book().await?;
            // The session's idle timer was touched by `authorize`.
            tx.commit().await?;
            Ok(match stored {
                Some(book) => AddressBookView::of(&book.value, Some(book.version)),
                None => AddressBookView::of(&AddressBook::new(), None),
            })
        })
        .await
    }

    /// Adds an address used for `usage`, making it the default for the kinds in
    /// `make_default` at once (ADDR-2; `make_default` implies the usage). The first address of
    /// a kind becomes its default anyway. A billing address must carry the organisation's
    /// company name and billing country (ADDR-4); [`LegalIdentity::prefill`] fills a form with
    /// them.
    ///
    /// # Errors
    /// `Validation` naming the field (`name`, `postal_code`, `phone`, `country`, …, or `usage`
    /// when the address is used for nothing) (ADDR-1); `ImmutableField` on `company` or
    /// `country` for a billing address with other legal fields (ADDR-4);
    /// `Conflict(stale_version)` when the book is no longer at `expected_version`;
    /// `Conflict(address_book_full)`; `PermissionDenied` (USR-4);
    /// `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn add_address(
        &self,
        input: AddressInput,
        usage: AddressUsage,
        make_default: AddressUsage,
        expected_version: Option<u64>,
    ) -> Result<AddedAddress> {
        let address = PostalAddress::parse(&input).map_err(Error::from)?;
        let portal = self.portal();
        let id = AddressId::new(portal.now(), portal.random()?);
        let book = self
            .change_book(
                Action::AddAddress,
                expected_version,
                AuditEventName::AddressCreated,
                id,
                |book, legal| {
                    book.add(id, address.clone(), usage, make_default, legal)
                        .map_err(Error::from)
                },
            )
            .await?;
        Ok(AddedAddress { id, book })
    }

    /// Replaces the address and usage of entry `id`; its default flags stay where the new
    /// usage allows (ADDR-1, ADDR-2). Orders and top-ups keep their own copies (ADDR-3).
    ///
    /// # Errors
    /// As [`Session::add_address`]; `NotFound` for an unknown id;
    /// `Conflict(last_billing_address)` when the last billing address would stop being one
    /// (ADDR-4).
    pub async fn update_address(
        &self,
        id: AddressId,
        input: AddressInput,
        usage: AddressUsage,
        expected_version: Option<u64>,
    ) -> Result<AddressBookView> {
        let address = PostalAddress::parse(&input).map_err(Error::from)?;
        self.change_book(
            Action::UpdateAddress,
            expected_version,
            AuditEventName::AddressUpdated,
            id,
            |book, legal| {
                book.update(id, address.clone(), usage, legal)
                    .map_err(Error::from)
            },
        )
        .await
    }

    /// Deletes entry `id`; when it was a default, the earliest remaining address of that kind
    /// takes over (ADDR-2). Orders and top-ups keep their own copies (ADDR-3).
    ///
    /// # Errors
    /// `NotFound` for an unknown id; `Conflict(last_billing_address)` for the last billing
    /// address (ADDR-4); `Conflict(stale_version)` when the book is no longer at
    /// `expected_version`; `PermissionDenied` (USR-4); `Unauthenticated(SessionExpired)`;
    /// `Unavailable`.
    pub async fn delete_address(
        &self,
        id: AddressId,
        expected_version: Option<u64>,
    ) -> Result<AddressBookView> {
        self.change_book(
            Action::DeleteAddress,
            expected_version,
            AuditEventName::AddressDeleted,
            id,
            |book, _| book.delete(id).map_err(Error::from),
        )
        .await
    }

    /// Makes entry `id` the default address for `kind`, clearing the previous default
    /// (ADDR-2).
    ///
    /// # Errors
    /// `NotFound` for an unknown id; `Conflict(address_usage_mismatch)` when the address is not
    /// used for `kind`; `Conflict(stale_version)` when the book is no longer at
    /// `expected_version`; `PermissionDenied` (USR-4); `Unauthenticated(SessionExpired)`;
    /// `Unavailable`.
    pub async fn set_default(
        &self,
        id: AddressId,
        kind: AddressKind,
        expected_version: Option<u64>,
    ) -> Result<AddressBookView> {
        self.change_book(
            Action::SetDefaultAddress,
            expected_version,
            AuditEventName::DefaultAddressSet,
            id,
            |book, _| book.set_default(id, kind).map_err(Error::from),
        )
        .await
    }

    /// One change of the address book in one transaction: permission, the book at the
    /// caller's version, the core rule `apply` with the organisation's legal identity, the write
    /// at the version read, and the audit entry of `event` on address `id`.
    async fn change_book<F>(
        &self,
        action: Action,
        expected_version: Option<u64>,
        event: AuditEventName,
        id: AddressId,
        apply: F,
    ) -> Result<AddressBookView>
    where
        F: Fn(&AddressBook, LegalIdentity<'_>) -> Result<AddressBook>,
    {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), action).await?;
            let stored = tx.address_book().await?;
            let current = stored.as_ref().map_or(0, |b| b.version.0);
            if expected_version.is_some_and(|v| v != current) {
                return Err(stale());
            }
            let customer = tx.customer().await?.ok_or(Error::NotFound)?.value.customer;
            let legal = LegalIdentity {
                company_name: customer.company_name().map(LegalName::as_str),
                billing_country: customer.billing_country(),
            };
            let empty = AddressBook::new();
            let before = stored.as_ref().map_or(&empty, |b| &b.value);
            let after = apply(before, legal)?;
            let version = write(tx.as_mut(), stored.as_ref(), after.clone()).await?;
            self.audit_change(tx.as_mut(), &actor, event, id, before, &after)
                .await?;
            tx.commit().await?;
            Ok(AddressBookView::of(&after, Some(version)))
        })
        .await
    }

    async fn audit_change(
        &self,
        tx: &mut dyn OrgTransaction,
        actor: &Actor,
        name: AuditEventName,
        id: AddressId,
        before: &AddressBook,
        after: &AddressBook,
    ) -> std::result::Result<(), Attempt> {
        let portal = self.portal();
        let mut event = portal.audit_event(
            Some(self.org()),
            AuditActor::User { id: actor.user },
            actor.channel,
            name,
            target("address", id)?,
            Outcome::Success,
        )?;
        // Names only: address values are personal data and stay out of the audit log.
        event.changed_fields = fields(&changed_fields(before.get(id), after.get(id)))?;
        portal.audit(tx, event).await?;
        Ok(())
    }
}

/// Writes `book` at the version it was read at (`None`: the organisation's first book) and
/// returns its new version. A book changed meanwhile is `Conflict(stale_version)`.
async fn write(
    tx: &mut dyn OrgTransaction,
    stored: Option<&Versioned<AddressBook>>,
    book: AddressBook,
) -> std::result::Result<Version, Attempt> {
    Ok(match stored {
        Some(stored) => tx.update_address_book(book, stored.version).await?,
        None => tx.insert_address_book(book).await?,
    })
}

fn stale() -> Attempt {
    Attempt::Fail(Error::Conflict {
        reason: ReasonCode::StaleVersion,
    })
}

/// The names of what changed on one entry between `before` and `after` (either may be absent:
/// added or deleted).
fn changed_fields(
    before: Option<&AddressEntry>,
    after: Option<&AddressEntry>,
) -> Vec<&'static str> {
    let input = |e: Option<&AddressEntry>| e.map(|e| e.address.to_input()).unwrap_or_default();
    let (old, new) = (input(before), input(after));
    let flags = |e: Option<&AddressEntry>| {
        e.map_or((AddressUsage::NONE, false, false), |e| {
            (e.usage, e.default_billing, e.default_shipping)
        })
    };
    let (old_flags, new_flags) = (flags(before), flags(after));
    [
        ("address.name", old.name != new.name),
        ("address.company", old.company != new.company),
        ("address.street", old.street != new.street),
        ("address.house_number", old.house_number != new.house_number),
        ("address.line2", old.line2 != new.line2),
        ("address.postal_code", old.postal_code != new.postal_code),
        ("address.city", old.city != new.city),
        ("address.region", old.region != new.region),
        ("address.country", old.country != new.country),
        ("address.phone", old.phone != new.phone),
        ("usage", old_flags.0 != new_flags.0),
        ("default_billing", old_flags.1 != new_flags.1),
        ("default_shipping", old_flags.2 != new_flags.2),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}
