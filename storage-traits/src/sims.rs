//! Storage of SIMs, plans and provisioning requests (SIM-2, ORD-3, PLAN-1, PLAN-2).
//!
//! A SIM is a row of its own carrying its order's id: an order can have a million SIMs, so
//! they are inserted in batches ([`SimsTx::insert_sims`]) and read back in batches
//! ([`SimsTx::order_sims`]) whose cost does not grow with the order.
//!
//! Keys, for SQL stores (every key and org-scoped index starts with the organisation id):
//! - `sims`: primary key `(org, id)`; index `(org, order, id)` for an order's SIMs and the
//!   list filtered by order; global unique index `iccid` → `(org, id)`
//!   ([`SimsLookup::sim_by_iccid`]).
//! - `plans`: primary key `(org, id)`.
//! - `provisioning`: primary key `(org, id)`; global index `(requested_at, org, id)` over
//!   pending requests, for the provider's timeout sweep
//!   ([`SimsProvider::pending_provisioning_before`]).

use async_trait::async_trait;
use selfcare_core::export::SimCsvWriter;
use selfcare_core::ids::{OrderId, OrgId, PlanId, ProvisioningId, SimId};
use selfcare_core::numbers::{Iccid, Msisdn};
use selfcare_core::plans::{Plan, SwapRequest, SwapState, Voicemail};
use selfcare_core::sims::{Sim, SimStatus};
use time::OffsetDateTime;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::version::{Version, Versioned};

/// A SIM as stored: the core [`Sim`] with its version. Primary key `(org, id)`; `iccid` is
/// unique across organisations; `order` is an order of the same organisation.
pub type SimRecord = Versioned<Sim>;

/// A consumer plan as stored: the core [`Plan`] with its version. Primary key `(org, id)`;
/// `order` is an order of the same organisation.
pub type PlanRecord = Versioned<Plan>;

/// A provisioning request as stored, with its version. Primary key `(org, id)`.
pub type ProvisioningRecord = Versioned<ProvisioningRequest>;

/// Which SIMs [`SimsTx::list_sims`] returns; `None` fields do not filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFilter {
    /// Only the SIMs of this order.
    pub order: Option<OrderId>,
    /// Only the SIMs with this status.
    pub status: Option<SimStatus>,
}

/// Where a provisioning request stands, as the store indexes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningState {
    /// Sent to (or about to be sent to) the network, not answered yet.
    Pending,
    /// The network completed it.
    Completed,
    /// The network refused it.
    Failed,
    /// No answer within the timeout (`run_maintenance`).
    TimedOut,
}

impl ProvisioningState {
    /// The store state of a SIM swap in `state`: requested and provisioning are both pending.
    pub fn of_swap(state: SwapState) -> Self {
        match state {
            SwapState::Requested | SwapState::Provisioning => ProvisioningState::Pending,
            SwapState::Completed => ProvisioningState::Completed,
            SwapState::Failed => ProvisioningState::Failed,
            SwapState::TimedOut => ProvisioningState::TimedOut,
        }
    }
}

/// What a provisioning request asks the network for (the `Network` port's operations).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProvisioningKind {
    /// Move the plan to another SIM (PLAN-2). The core request carries the old and new ICCIDs
    /// and the swap's own state machine.
    SimSwap {
        /// The swap as core decided it.
        request: SwapRequest,
    },
    /// Set the plan's voicemail (PLAN-3).
    Voicemail {
        /// The setting asked for.
        setting: Voicemail,
    },
    /// Set (`Some`) or reset (`None`) call forwarding (PLAN-6).
    CallForwarding {
        /// The number calls go to.
        to: Option<Msisdn>,
    },
    /// Push the APN settings to the SIM (PLAN-4).
    Apn,
}

/// A request sent to the `Network` port whose answer comes later (`complete_provisioning`),
/// or never (timed out after an hour by `run_maintenance`, PLAN-2).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningRequest {
    /// Its id (the network's request id).
    pub id: ProvisioningId,
    /// The plan it changes (of the same organisation).
    pub plan: PlanId,
    /// What it asks for.
    pub kind: ProvisioningKind,
    /// When it was requested; a pending request is due for the timeout from this instant on.
    #[serde(with = "selfcare_core::formats::instant")]
    pub requested_at: OffsetDateTime,
    /// Where it stands.
    pub state: ProvisioningState,
}

impl ProvisioningRequest {
    /// The request of a SIM swap, its id, plan, time and state taken from `request` so they
    /// cannot disagree.
    pub fn swap(request: SwapRequest) -> Self {
        ProvisioningRequest {
            id: request.id(),
            plan: request.plan(),
            requested_at: request.requested_at(),
            state: ProvisioningState::of_swap(request.state()),
            kind: ProvisioningKind::SimSwap { request },
        }
    }
}

/// Organisation-scoped operations on SIMs, plans and provisioning requests, inside an
/// [`crate::OrgTransaction`].
#[async_trait]
pub trait SimsTx: Send {
    /// Inserts SIMs, each at [`Version::FIRST`] (staff `assign_sims`: an order's SIMs in
    /// batches). All or nothing: when one SIM is refused, none is inserted.
    ///
    /// The store MUST refuse the whole batch when one ICCID exists in any organisation or
    /// appears twice in the batch, when one id exists, or when one SIM's order is not an order
    /// of this organisation. An empty batch inserts nothing and succeeds.
    ///
    /// # Errors
    /// `Conflict(Duplicate { what: "iccid" })`; `Conflict(Duplicate { what: "sim" })`;
    /// `NotFound` for an unknown order.
    async fn insert_sims(&mut self, sims: Vec<Sim>) -> StoreResult<()>;

    /// The SIM `id` of this organisation with its version, or `None` (also for another
    /// organisation's SIM: it MUST NOT be returned).
    ///
    /// # Errors
    /// `Unavailable`, `Corrupt`.
    async fn sim(&mut self, id: SimId) -> StoreResult<Option<SimRecord>>;

    /// Replaces the stored SIM (label, status, Auto-Top-Up, numbers once provisioned, billing)
    /// and returns its new version.
    ///
    /// The store MUST write only when the stored version equals `expected`, and MUST refuse a
    /// change of the ICCID or the order (a SIM keeps both for life).
    ///
    /// # Errors
    /// `NotFound` when this organisation has no SIM `sim.id`; `Conflict(StaleVersion)` when
    /// the stored version is not `expected` (nothing written); `InvalidInput { what: "iccid" }`
    /// or `{ what: "sim order" }` for a changed ICCID or order.
    async fn update_sim(&mut self, sim: Sim, expected: Version) -> StoreResult<Version>;

    /// The organisation's SIMs matching `filter`, by id ascending (the order they were
    /// assigned in), keyset-paginated.
    ///
    /// It MUST return only this organisation's SIMs, each once across the pages of one walk,
    /// even while SIMs are inserted between pages.
    ///
    /// # Errors
    /// `InvalidInput` for a page limit outside 1..=500 or a cursor this store did not make.
    async fn list_sims(
        &mut self,
        filter: &SimFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<SimRecord>>;

    /// Streams the SIMs of the order `order`: at most `batch` SIMs whose id is greater than
    /// `after` (from the first when `None`), by id ascending. The caller loops, passing the
    /// last id it got, until a batch comes back shorter than `batch` (ORD-3 export).
    ///
    /// It MUST return only SIMs of that order of this organisation, each once across the
    /// batches of one walk, and MUST cost memory in proportion to `batch`, not to the order.
    ///
    /// # Errors
    /// `InvalidInput { what: "batch" }` for a batch outside 1..=500.
    async fn order_sims(
        &mut self,
        order: OrderId,
        after: Option<SimId>,
        batch: u32,
    ) -> StoreResult<Vec<SimRecord>>;

    /// The ORD-3 export at volume: the CSV rows (no header) of at most `batch` SIMs of the
    /// order `order` whose id is greater than `after`, by id ascending — the same SIMs in the
    /// same order as [`SimsTx::order_sims`] — written by
    /// [`SimCsvWriter::continuing`](selfcare_core::export::SimCsvWriter::continuing).
    ///
    /// A store may produce the rows straight from its columns
    /// ([`SimCsvWriter::write_stored`](selfcare_core::export::SimCsvWriter::write_stored)),
    /// without decoding whole SIMs; the default reads [`SimsTx::order_sims`] pages. It MUST
    /// cost memory in proportion to `batch`.
    ///
    /// # Errors
    /// `InvalidInput { what: "batch" }` for a batch outside 1..=[`MAX_EXPORT_BATCH`].
    async fn order_sims_csv(
        &mut self,
        order: OrderId,
        after: Option<SimId>,
        batch: u32,
    ) -> StoreResult<SimCsvChunk> {
        if batch == 0 || batch > MAX_EXPORT_BATCH {
            return Err(StoreError::InvalidInput { what: "batch" });
        }
        let mut out = SimCsvWriter::continuing(Vec::new());
        let mut chunk = SimCsvChunk::default();
        let mut cursor = after;
        while chunk.rows < batch {
            let page = (batch - chunk.rows).min(crate::page::MAX_PAGE);
            let sims = self.order_sims(order, cursor, page).await?;
            for sim in &sims {
                out.write_sim(&sim.value)
                    .map_err(|e| StoreError::Internal {
                        reason: format!("writing a CSV chunk in memory: {e}"),
                    })?;
                chunk.last = Some(sim.value.id);
                cursor = chunk.last;
            }
            let got = u32::try_from(sims.len()).unwrap_or(u32::MAX);
            chunk.rows = chunk.rows.saturating_add(got);
            if got < page {
                break;
            }
        }
        chunk.bytes = out.finish().map_err(|e| StoreError::Internal {
            reason: format!("writing a CSV chunk in memory: {e}"),
        })?;
        Ok(chunk)
    }

    /// Inserts a plan at [`Version::FIRST`].
    ///
    /// The store MUST refuse an existing id and a plan whose order is not an order of this
    /// organisation.
    ///
    /// # Errors
    /// `Conflict(Duplicate { what: "plan" })`; `NotFound` for an unknown order.
    async fn insert_plan(&mut self, plan: Plan) -> StoreResult<Version>;

    /// The plan `id` of this organisation with its version, or `None` (never another
    /// organisation's plan).
    ///
    /// # Errors
    /// `Unavailable`, `Corrupt`.
    async fn plan(&mut self, id: PlanId) -> StoreResult<Option<PlanRecord>>;

    /// Replaces the stored plan (dates, SIM after a swap, voicemail, call forwarding, pending
    /// swap) and returns its new version. The store MUST write only when the stored version
    /// equals `expected`, and MUST refuse a change of the plan's order.
    ///
    /// # Errors
    /// `NotFound`; `Conflict(StaleVersion)` (nothing written);
    /// `InvalidInput { what: "plan order" }`.
    async fn update_plan(&mut self, plan: Plan, expected: Version) -> StoreResult<Version>;

    /// The organisation's plans, newest first (by id descending), keyset-paginated. It MUST
    /// return only this organisation's plans, each once across the pages of one walk.
    ///
    /// # Errors
    /// `InvalidInput` for a bad page limit or cursor.
    async fn list_plans(&mut self, page: &PageRequest) -> StoreResult<Page<PlanRecord>>;

    /// Inserts a provisioning request at [`Version::FIRST`].
    ///
    /// The store MUST refuse an existing id and a request whose plan is not a plan of this
    /// organisation. A pending request MUST from now on be listed by
    /// [`SimsProvider::pending_provisioning_before`] once its time has come.
    ///
    /// # Errors
    /// `Conflict(Duplicate { what: "provisioning" })`; `NotFound` for an unknown plan.
    async fn insert_provisioning(&mut self, request: ProvisioningRequest) -> StoreResult<Version>;

    /// The provisioning request `id` of this organisation with its version, or `None`.
    ///
    /// # Errors
    /// `Unavailable`, `Corrupt`.
    async fn provisioning(&mut self, id: ProvisioningId)
    -> StoreResult<Option<ProvisioningRecord>>;

    /// Replaces the stored request (its state and, for a swap, the core request) and returns
    /// its new version. The store MUST write only when the stored version equals `expected`,
    /// MUST refuse a change of the plan or of `requested_at`, and a request that is no longer
    /// pending MUST NOT be listed as due any more.
    ///
    /// # Errors
    /// `NotFound`; `Conflict(StaleVersion)` (nothing written);
    /// `InvalidInput { what: "provisioning plan" }` or `{ what: "requested_at" }`.
    async fn update_provisioning(
        &mut self,
        request: ProvisioningRequest,
        expected: Version,
    ) -> StoreResult<Version>;
}

/// Provider-scoped reads of SIMs and provisioning (ids and due times), inside a
/// [`crate::ProviderTransaction`].
#[async_trait]
pub trait SimsProvider: Send {
    /// The pending provisioning requests of every organisation requested at or before
    /// `cutoff` (`now - timeout`), oldest first, at most `max`, as `(org, id, requested_at)`:
    /// what `run_maintenance` times out (PLAN-2). Each change runs in the owning
    /// organisation's scope afterwards.
    ///
    /// It MUST list every pending request due and none that is completed, failed or timed
    /// out, or requested after `cutoff`.
    ///
    /// # Errors
    /// `InvalidInput { what: "max" }` for `max` outside 1..=500.
    async fn pending_provisioning_before(
        &mut self,
        cutoff: OffsetDateTime,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, ProvisioningId, OffsetDateTime)>>;
}

/// The largest batch of [`SimsTx::order_sims_csv`].
pub const MAX_EXPORT_BATCH: u32 = 10_000;

/// A piece of an order's SIM CSV (ORD-3): rows without the header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimCsvChunk {
    /// The CSV rows.
    pub bytes: Vec<u8>,
    /// How many SIMs they hold.
    pub rows: u32,
    /// The id of the last SIM written (where the next chunk starts); `None` when empty.
    pub last: Option<SimId>,
}

/// Global lookups of SIMs (ids only), on the [`crate::Store`] itself.
#[async_trait]
pub trait SimsLookup: Send + Sync {
    /// The organisation and id of the SIM with the ICCID `iccid`, in any organisation, or
    /// `None`. It MUST see only committed SIMs.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn sim_by_iccid(&self, iccid: &Iccid) -> StoreResult<Option<(OrgId, SimId)>>;

    /// The organisation and plan of the provisioning request `id`, in any organisation and in
    /// any state, or `None`: the network's completion names only the request
    /// (`complete_provisioning`). It MUST see only committed requests.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn provisioning_by_id(&self, id: ProvisioningId) -> StoreResult<Option<(OrgId, PlanId)>>;
}
