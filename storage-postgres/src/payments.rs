//! (being written) the payments area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, PaymentIntentId};
use selfcare_core::orders::{
    GatewayKey, IdempotencyKey, IntentLease, PaymentIntentState, RequestFingerprint,
};
use selfcare_core::payment::PaymentSettings;
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::payments::*;
use selfcare_storage::version::{Version, Versioned};
use std::fmt;
use time::OffsetDateTime;

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::payments::PaymentsTx for PgTx {
    async fn payment_settings(&mut self) -> StoreResult<Option<Versioned<PaymentSettings>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_payment_settings(&mut self, settings: PaymentSettings) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_payment_settings(
        &mut self,
        settings: PaymentSettings,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_payment_intent(&mut self, intent: PaymentIntentRecord) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn payment_intent(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn payment_intent_by_id(
        &mut self,
        id: PaymentIntentId,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_payment_intent(
        &mut self,
        intent: PaymentIntentRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_idempotency_record(&mut self, record: IdempotencyRecord) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn idempotency_record(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::payments::PaymentsProvider for PgProviderTx {
    async fn due_payment_intents(
        &mut self,
        state: PaymentIntentState,
        leased_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueIntent>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn purge_idempotency_records(
        &mut self,
        created_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
