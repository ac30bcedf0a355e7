//! The in-memory store's payments tables.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, PaymentIntentId};
use selfcare_core::orders::{IdempotencyKey, PaymentIntentState};
use selfcare_core::payment::PaymentSettings;
use time::OffsetDateTime;

use super::{MemoryProviderTx, MemoryTx, OrgTable, next_version, page_across, rows_of, vacant};
use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
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
        self.inner.insert_aggregate(
            |s| &mut s.payments.settings,
            self.org,
            settings,
            "payment_settings",
        )
    }

    async fn update_payment_settings(
        &mut self,
        settings: PaymentSettings,
        expected: Version,
    ) -> StoreResult<Version> {
        self.inner
            .update_aggregate(|s| &mut s.payments.settings, self.org, settings, expected)
    }

    async fn insert_payment_intent(&mut self, intent: PaymentIntentRecord) -> StoreResult<Version> {
        let key = intent.key.as_str().to_owned();
        let (org, id) = (self.org, intent.id);
        let payments = &self.inner.payments;
        vacant(
            rows_of(&payments.intent_keys, org),
            &key,
            "payment_intent_key",
        )?;
        vacant(rows_of(&payments.intents, org), &id, "payment_intent_id")?;
        self.inner
            .put_in(|s| &mut s.payments.intent_keys, org, key, id);
        Ok(self.inner.put_versioned_in(
            |s| &mut s.payments.intents,
            org,
            id,
            intent,
            Version::FIRST,
        ))
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
        let version = next_version(Some(stored), expected)?;
        let (org, id) = (self.org, intent.id);
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.payments.intents, org, id, intent, version))
    }

    async fn insert_idempotency_record(&mut self, record: IdempotencyRecord) -> StoreResult<()> {
        let key = record.key.as_str().to_owned();
        vacant(
            rows_of(&self.inner.payments.idempotency, self.org),
            &key,
            "idempotency_key",
        )?;
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

#[async_trait]
impl PaymentsProvider for MemoryProviderTx {
    async fn due_payment_intents(
        &mut self,
        state: PaymentIntentState,
        leased_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueIntent>> {
        // By organisation, then intent id.
        page_across(&self.inner.payments.intents, page, |&(org, id), row| {
            let intent = &row.value;
            (intent.state == state && intent.leased_at < leased_before).then_some(DueIntent {
                org,
                id,
                state: intent.state,
                leased_at: intent.leased_at,
            })
        })
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
