//! (being written) the sims area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::export::SimCsvWriter;
use selfcare_core::ids::{OrderId, OrgId, PlanId, ProvisioningId, SimId};
use selfcare_core::numbers::{Iccid, Msisdn};
use selfcare_core::plans::{Plan, SwapRequest, SwapState, Voicemail};
use selfcare_core::sims::{Sim, SimStatus};
use selfcare_storage::error::{StoreError, StoreResult};
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::sims::*;
use selfcare_storage::version::{Version, Versioned};
use time::OffsetDateTime;

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::sims::SimsTx for PgTx {
    async fn insert_sims(&mut self, sims: Vec<Sim>) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn sim(&mut self, id: SimId) -> StoreResult<Option<SimRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_sim(&mut self, sim: Sim, expected: Version) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn list_sims(
        &mut self,
        filter: &SimFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<SimRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn order_sims(
        &mut self,
        order: OrderId,
        after: Option<SimId>,
        batch: u32,
    ) -> StoreResult<Vec<SimRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_plan(&mut self, plan: Plan) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn plan(&mut self, id: PlanId) -> StoreResult<Option<PlanRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_plan(&mut self, plan: Plan, expected: Version) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn list_plans(&mut self, page: &PageRequest) -> StoreResult<Page<PlanRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_provisioning(&mut self, request: ProvisioningRequest) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn provisioning(
        &mut self,
        id: ProvisioningId,
    ) -> StoreResult<Option<ProvisioningRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_provisioning(
        &mut self,
        request: ProvisioningRequest,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::sims::SimsProvider for PgProviderTx {
    async fn pending_provisioning_before(
        &mut self,
        cutoff: OffsetDateTime,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, ProvisioningId, OffsetDateTime)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::sims::SimsLookup for PgStore {
    async fn sim_by_iccid(&self, iccid: &Iccid) -> StoreResult<Option<(OrgId, SimId)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn provisioning_by_id(&self, id: ProvisioningId) -> StoreResult<Option<(OrgId, PlanId)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
