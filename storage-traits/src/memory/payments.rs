//! The in-memory store's payments tables.

use std::collections::BTreeMap;
use std::ops::Bound;

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, PaymentIntentId};
use selfcare_core::orders::{IdempotencyKey, PaymentIntentState};
use selfcare_core::payment::PaymentSettings;
use time::OffsetDateTime;

use super::{CursorKey, MemoryProviderTx, MemoryTx, OrgTable};
use crate::error::{StoreError, StoreResult};
use crate::page::{Cursor, Page, PageRequest};
use crate::payments::{
    DueIntent, IdempotencyRecord, PaymentIntentRecord, PaymentsProvider, PaymentsTx,
};
use crate::version::{Version, Versioned};

/// The payments tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// One payment-settings aggregate per organisation.
    settings: BTreeMap<OrgId, Versioned<PaymentSettings>>,
    /// Payment intents by id.
    intents: OrgTable<PaymentIntentId, Versioned<PaymentIntentRecord>>,
    /// The unique index of intents by idempotency key.
    intent_keys: OrgTable<String, PaymentIntentId>,
    /// Idempotency records by key.
    idempotency: OrgTable<String, IdempotencyRecord>,
}

impl MemoryTx {
    fn intent(&self, id: PaymentIntentId) -> Option<&Versioned<PaymentIntentRecord>> {
        self.inner
            .payments
            .intents
            .get(&self.org)
            .and_then(|rows| rows.get(&id))
    }
}

#[async_trait]
impl PaymentsTx for MemoryTx {
    async fn payment_settings(&mut self) -> StoreResult<Option<Versioned<PaymentSettings>>> {
        Ok(self.inner.payments.settings.get(&self.org).cloned())
    }

    async fn insert_payment_settings(&mut self, settings: PaymentSettings) -> StoreResult<Version> {
        if self.inner.payments.settings.contains_key(&self.org) {
            return Err(StoreError::duplicate("payment_settings"));
        }
        self.inner.put(
            |s| &mut s.payments.settings,
            self.org,
            Versioned {
                value: settings,
                version: Version::FIRST,
            },
        );
        Ok(Version::FIRST)
    }

    async fn update_payment_settings(
        &mut self,
        settings: PaymentSettings,
        expected: Version,
    ) -> StoreResult<Version> {
        let stored = self
            .inner
            .payments
            .settings
            .get(&self.org)
            .ok_or(StoreError::NotFound)?;
        if stored.version != expected {
            return Err(StoreError::stale());
        }
        let version = expected.next();
        self.inner.put(
            |s| &mut s.payments.settings,
            self.org,
            Versioned {
                value: settings,
                version,
            },
        );
        Ok(version)
    }

    async fn insert_payment_intent(&mut self, intent: PaymentIntentRecord) -> StoreResult<Version> {
        let key = intent.key.as_str().to_owned();
        let taken = self
            .inner
            .payments
            .intent_keys
            .get(&self.org)
            .is_some_and(|rows| rows.contains_key(&key));
        if taken {
            return Err(StoreError::duplicate("payment_intent_key"));
        }
        if self.intent(intent.id).is_some() {
            return Err(StoreError::duplicate("payment_intent_id"));
        }
        let id = intent.id;
        self.inner
            .put_in(|s| &mut s.payments.intent_keys, self.org, key, id);
        self.inner.put_in(
            |s| &mut s.payments.intents,
            self.org,
            id,
            Versioned {
                value: intent,
                version: Version::FIRST,
            },
        );
        Ok(Version::FIRST)
    }

    async fn payment_intent(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        let id = self
            .inner
            .payments
            .intent_keys
            .get(&self.org)
            .and_then(|rows| rows.get(key.as_str()))
            .copied();
        Ok(id.and_then(|id| self.intent(id)).cloned())
    }

    async fn payment_intent_by_id(
        &mut self,
        id: PaymentIntentId,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        Ok(self.intent(id).cloned())
    }

    async fn update_payment_intent(
        &mut self,
        intent: PaymentIntentRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let stored = self.intent(intent.id).ok_or(StoreError::NotFound)?;
        if stored.value.key != intent.key {
            return Err(StoreError::InvalidInput {
                what: "payment intent key",
            });
        }
        if stored.version != expected {
            return Err(StoreError::stale());
        }
        let version = expected.next();
        let id = intent.id;
        self.inner.put_in(
            |s| &mut s.payments.intents,
            self.org,
            id,
            Versioned {
                value: intent,
                version,
            },
        );
        Ok(version)
    }

    async fn insert_idempotency_record(&mut self, record: IdempotencyRecord) -> StoreResult<()> {
        let key = record.key.as_str().to_owned();
        let taken = self
            .inner
            .payments
            .idempotency
            .get(&self.org)
            .is_some_and(|rows| rows.contains_key(&key));
        if taken {
            return Err(StoreError::duplicate("idempotency_key"));
        }
        self.inner
            .put_in(|s| &mut s.payments.idempotency, self.org, key, record);
        Ok(())
    }

    async fn idempotency_record(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        Ok(self
            .inner
            .payments
            .idempotency
            .get(&self.org)
            .and_then(|rows| rows.get(key.as_str()))
            .cloned())
    }
}

/// The sort key of [`PaymentsProvider::due_payment_intents`]: organisation, then intent id.
type DueKey = (OrgId, PaymentIntentId);

fn encode_due(key: DueKey) -> Cursor {
    Cursor::new(format!("{}.{}", key.0.encode(), key.1.encode()))
}

fn decode_due(cursor: &Cursor) -> StoreResult<DueKey> {
    let invalid = StoreError::InvalidInput { what: "cursor" };
    let (org, id) = cursor.as_str().split_once('.').ok_or(invalid.clone())?;
    match (OrgId::decode(org), PaymentIntentId::decode(id)) {
        (Some(org), Some(id)) => Ok((org, id)),
        _ => Err(invalid),
    }
}

#[async_trait]
impl PaymentsProvider for MemoryProviderTx {
    async fn due_payment_intents(
        &mut self,
        state: PaymentIntentState,
        leased_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueIntent>> {
        let limit = page.checked_limit()?;
        let after = page.after.as_ref().map(decode_due).transpose()?;
        let intents = &self.inner.payments.intents;
        let orgs = match after {
            Some((org, _)) => intents.range(org..),
            None => intents.range(..),
        };
        let rows = orgs.flat_map(|(&org, rows)| {
            let ids = match after {
                Some((after_org, after_id)) if after_org == org => {
                    rows.range((Bound::Excluded(after_id), Bound::Unbounded))
                }
                _ => rows.range(..),
            };
            ids.map(move |(&id, row)| (org, id, row))
        });
        let mut items: Vec<DueIntent> = Vec::new();
        let mut next = None;
        for (org, id, row) in rows {
            let intent = &row.value;
            if intent.state != state || intent.leased_at >= leased_before {
                continue;
            }
            if items.len() == limit {
                next = items.last().map(|last| encode_due((last.org, last.id)));
                break;
            }
            items.push(DueIntent {
                org,
                id,
                state: intent.state,
                leased_at: intent.leased_at,
            });
        }
        Ok(Page { items, next })
    }

    async fn purge_idempotency_records(
        &mut self,
        created_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        let expired: Vec<(OrgId, String)> = self
            .inner
            .payments
            .idempotency
            .iter()
            .flat_map(|(&org, rows)| {
                rows.iter()
                    .filter(|(_, record)| record.created_at < created_before)
                    .map(move |(key, _)| (org, key.clone()))
            })
            .collect();
        for (org, key) in &expired {
            self.inner
                .remove_in(|s| &mut s.payments.idempotency, *org, key);
        }
        u64::try_from(expired.len()).map_err(|_| StoreError::Internal {
            reason: "purged more records than u64 counts".to_owned(),
        })
    }
}
