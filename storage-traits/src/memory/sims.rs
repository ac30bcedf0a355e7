//! The in-memory store's SIM, plan and provisioning tables.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use selfcare_core::ids::{OrderId, OrgId, PlanId, ProvisioningId, SimId};
use selfcare_core::numbers::Iccid;
use selfcare_core::plans::Plan;
use selfcare_core::sims::Sim;
use time::OffsetDateTime;

use super::{
    MemoryProviderTx, MemoryStore, MemoryTx, OrgTable, checked_count, next_version, page_ascending,
    page_descending, page_within, rows_of, within,
};
use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::sims::{
    PlanRecord, ProvisioningRecord, ProvisioningRequest, ProvisioningState, SimFilter, SimRecord,
    SimsLookup, SimsProvider, SimsTx,
};
use crate::version::Version;

/// The SIM, plan and provisioning tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// `(org, id)` → SIM.
    sims: OrgTable<SimId, SimRecord>,
    /// Index `(org, order, id)` over the SIMs.
    sims_by_order: OrgTable<(OrderId, SimId), ()>,
    /// Global unique index: ICCID → `(org, id)`.
    iccids: BTreeMap<Iccid, (OrgId, SimId)>,
    /// `(org, id)` → plan.
    plans: OrgTable<PlanId, PlanRecord>,
    /// `(org, id)` → provisioning request.
    provisioning: OrgTable<ProvisioningId, ProvisioningRecord>,
    /// Global index over pending requests: `(requested_at, org, id)`.
    pending: BTreeMap<(OffsetDateTime, OrgId, ProvisioningId), ()>,
}

impl MemoryTx {
    fn sim_row(&self, id: SimId) -> Option<&SimRecord> {
        self.inner.sims.sims.get(&self.org)?.get(&id)
    }

    fn plan_row(&self, id: PlanId) -> Option<&PlanRecord> {
        self.inner.sims.plans.get(&self.org)?.get(&id)
    }

    fn provisioning_row(&self, id: ProvisioningId) -> Option<&ProvisioningRecord> {
        self.inner.sims.provisioning.get(&self.org)?.get(&id)
    }
}

#[async_trait]
impl SimsTx for MemoryTx {
    async fn insert_sims(&mut self, sims: Vec<Sim>) -> StoreResult<()> {
        // Check the whole batch before writing anything, so a refusal leaves no row even
        // inside a transaction the caller goes on to commit.
        let mut batch_iccids = BTreeSet::new();
        let mut batch_ids = BTreeSet::new();
        for sim in &sims {
            if self.inner.sims.iccids.contains_key(&sim.iccid)
                || !batch_iccids.insert(sim.iccid.clone())
            {
                return Err(StoreError::duplicate("iccid"));
            }
            if self.sim_row(sim.id).is_some() || !batch_ids.insert(sim.id) {
                return Err(StoreError::duplicate("sim"));
            }
            if !self.inner.orders.has_order(self.org, sim.order) {
                return Err(StoreError::NotFound);
            }
        }
        let org = self.org;
        for sim in sims {
            let (id, order) = (sim.id, sim.order);
            self.inner
                .put(|s| &mut s.sims.iccids, sim.iccid.clone(), (org, id));
            self.inner
                .put_in(|s| &mut s.sims.sims_by_order, org, (order, id), ());
            self.inner
                .put_versioned_in(|s| &mut s.sims.sims, org, id, sim, Version::FIRST);
        }
        Ok(())
    }

    async fn sim(&mut self, id: SimId) -> StoreResult<Option<SimRecord>> {
        Ok(self.sim_row(id).cloned())
    }

    async fn update_sim(&mut self, sim: Sim, expected: Version) -> StoreResult<Version> {
        let stored = self.sim_row(sim.id).ok_or(StoreError::NotFound)?;
        let version = next_version(Some(stored), expected)?;
        if stored.value.iccid != sim.iccid {
            return Err(StoreError::InvalidInput { what: "iccid" });
        }
        if stored.value.order != sim.order {
            return Err(StoreError::InvalidInput { what: "sim order" });
        }
        let (org, id) = (self.org, sim.id);
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.sims.sims, org, id, sim, version))
    }

    async fn list_sims(
        &mut self,
        filter: &SimFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<SimRecord>> {
        let rows = rows_of(&self.inner.sims.sims, self.org);
        let status_ok = |sim: &SimRecord| filter.status.is_none_or(|s| sim.value.status == s);
        match filter.order {
            Some(order) => page_within(
                self.inner.sims.sims_by_order.get(&self.org),
                order,
                SimId::from_uuid(uuid::Uuid::nil()),
                page,
                |id, ()| {
                    rows.and_then(|r| r.get(id))
                        .filter(|s| status_ok(s))
                        .cloned()
                },
            ),
            None => page_ascending(rows, page, |_, s| status_ok(s).then(|| s.clone())),
        }
    }

    async fn order_sims(
        &mut self,
        order: OrderId,
        after: Option<SimId>,
        batch: u32,
    ) -> StoreResult<Vec<SimRecord>> {
        let batch = checked_count(batch, "batch")?;
        let (Some(index), Some(rows)) = (
            self.inner.sims.sims_by_order.get(&self.org),
            self.inner.sims.sims.get(&self.org),
        ) else {
            return Ok(Vec::new());
        };
        let min = SimId::from_uuid(uuid::Uuid::nil());
        Ok(within(index, order, after, min)
            .filter_map(|(id, ())| rows.get(&id).cloned())
            .take(batch)
            .collect())
    }

    async fn insert_plan(&mut self, plan: Plan) -> StoreResult<Version> {
        if self.plan_row(plan.id()).is_some() {
            return Err(StoreError::duplicate("plan"));
        }
        if !self.inner.orders.has_order(self.org, plan.order()) {
            return Err(StoreError::NotFound);
        }
        let (org, id) = (self.org, plan.id());
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.sims.plans, org, id, plan, Version::FIRST))
    }

    async fn plan(&mut self, id: PlanId) -> StoreResult<Option<PlanRecord>> {
        Ok(self.plan_row(id).cloned())
    }

    async fn update_plan(&mut self, plan: Plan, expected: Version) -> StoreResult<Version> {
        let stored = self.plan_row(plan.id()).ok_or(StoreError::NotFound)?;
        let version = next_version(Some(stored), expected)?;
        if stored.value.order() != plan.order() {
            return Err(StoreError::InvalidInput { what: "plan order" });
        }
        let (org, id) = (self.org, plan.id());
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.sims.plans, org, id, plan, version))
    }

    async fn list_plans(&mut self, page: &PageRequest) -> StoreResult<Page<PlanRecord>> {
        page_descending(rows_of(&self.inner.sims.plans, self.org), page, |_, p| {
            Some(p.clone())
        })
    }

    async fn insert_provisioning(&mut self, request: ProvisioningRequest) -> StoreResult<Version> {
        if self.provisioning_row(request.id).is_some() {
            return Err(StoreError::duplicate("provisioning"));
        }
        if self.plan_row(request.plan).is_none() {
            return Err(StoreError::NotFound);
        }
        let (org, id) = (self.org, request.id);
        if request.state == ProvisioningState::Pending {
            self.inner
                .put(|s| &mut s.sims.pending, (request.requested_at, org, id), ());
        }
        Ok(self.inner.put_versioned_in(
            |s| &mut s.sims.provisioning,
            org,
            id,
            request,
            Version::FIRST,
        ))
    }

    async fn provisioning(
        &mut self,
        id: ProvisioningId,
    ) -> StoreResult<Option<ProvisioningRecord>> {
        Ok(self.provisioning_row(id).cloned())
    }

    async fn update_provisioning(
        &mut self,
        request: ProvisioningRequest,
        expected: Version,
    ) -> StoreResult<Version> {
        let stored = self
            .provisioning_row(request.id)
            .ok_or(StoreError::NotFound)?;
        let version = next_version(Some(stored), expected)?;
        if stored.value.plan != request.plan {
            return Err(StoreError::InvalidInput {
                what: "provisioning plan",
            });
        }
        if stored.value.requested_at != request.requested_at {
            return Err(StoreError::InvalidInput {
                what: "requested_at",
            });
        }
        let (org, id, at) = (self.org, request.id, request.requested_at);
        if request.state == ProvisioningState::Pending {
            self.inner.put(|s| &mut s.sims.pending, (at, org, id), ());
        } else {
            self.inner.remove(|s| &mut s.sims.pending, &(at, org, id));
        }
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.sims.provisioning, org, id, request, version))
    }
}

#[async_trait]
impl SimsProvider for MemoryProviderTx {
    async fn pending_provisioning_before(
        &mut self,
        cutoff: OffsetDateTime,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, ProvisioningId, OffsetDateTime)>> {
        let max = checked_count(max, "max")?;
        Ok(self
            .inner
            .sims
            .pending
            .keys()
            .take_while(|(at, _, _)| *at <= cutoff)
            .take(max)
            .map(|(at, org, id)| (*org, *id, *at))
            .collect())
    }
}

#[async_trait]
impl SimsLookup for MemoryStore {
    async fn sim_by_iccid(&self, iccid: &Iccid) -> StoreResult<Option<(OrgId, SimId)>> {
        Ok(self.read().await.sims.iccids.get(iccid).copied())
    }

    async fn provisioning_by_id(&self, id: ProvisioningId) -> StoreResult<Option<(OrgId, PlanId)>> {
        // One table per organisation: a lookup by id alone visits each (fine in memory; SQL
        // stores index the id).
        let state = self.read().await;
        Ok(state
            .sims
            .provisioning
            .iter()
            .find_map(|(org, rows)| rows.get(&id).map(|r| (*org, r.value.plan))))
    }
}
