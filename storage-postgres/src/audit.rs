//! The audit log (AUD-1): every organisation's chain in `audit_entries`, keyed
//! `(org_id, seq)`, and the provider's chain in `provider_audit_entries`, keyed `seq`.
//!
//! A row's `body` is the entry as JSON with its personal values already in their erased form
//! (their hash only); the values themselves are the `personal` column. Reading puts them back;
//! erasing sets the column to NULL, so it changes the personal values and nothing else, and
//! no erased value is left in the body.
//!
//! An append compares the entry's `after` with the stored head inside the transaction, so a
//! head this transaction can see moved is `ChainMismatch`. Two concurrent transactions that
//! both read the same head cannot both write: the second one's insert at the same `seq` meets
//! the primary key (or `SERIALIZABLE` notices the read of a head the other one moved), and
//! that is `Retryable`, so the sdk re-runs its use case on the new head.

use async_trait::async_trait;
use selfcare_core::audit::{AuditEntry, ChainHead, Mac, PersonalValues};
use selfcare_core::ids::OrgId;
use selfcare_storage::audit::{AuditProvider, AuditTx};
use selfcare_storage::error::ConflictKind;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::{StoreError, StoreResult};
use sqlx::PgConnection;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use uuid::Uuid;

use crate::columns::{body, decode_cursor, encode_cursor, fetch_limit, from_body, get, page_of};
use crate::error::{sql, unique_violation};
use crate::{PgProviderTx, PgTx};

const CURSOR: &str = "a";

/// Which chain a statement works on: an organisation's or the provider's. The SQL differs
/// only in the table and the organisation filter; both are constants here, never input. An
/// organisation's statements take the organisation as `$1` and their other parameters after
/// it; the provider's take only the others, from `$1`.
#[derive(Clone, Copy)]
enum Chain {
    Org(Uuid),
    Provider,
}

type PgQuery = Query<'static, sqlx::Postgres, PgArguments>;

impl Chain {
    /// The organisation the chain's entries must name (`None`: the provider).
    fn owner(self) -> Option<OrgId> {
        match self {
            Chain::Org(org) => Some(OrgId::from_uuid(org)),
            Chain::Provider => None,
        }
    }

    /// The chain's form of a statement, with the organisation bound first when it has one.
    fn query(self, org_sql: &'static str, provider_sql: &'static str) -> PgQuery {
        match self {
            Chain::Org(org) => sqlx::query(org_sql).bind(org),
            Chain::Provider => sqlx::query(provider_sql),
        }
    }

    fn head(self) -> PgQuery {
        self.query(
            "SELECT seq, mac FROM audit_entries WHERE org_id = $1 ORDER BY seq DESC LIMIT 1",
            "SELECT seq, mac FROM provider_audit_entries ORDER BY seq DESC LIMIT 1",
        )
    }

    fn insert(self) -> PgQuery {
        self.query(
            "INSERT INTO audit_entries (org_id, seq, mac, body, personal)
             VALUES ($1, $2, $3, $4, $5)",
            "INSERT INTO provider_audit_entries (seq, mac, body, personal)
             VALUES ($1, $2, $3, $4)",
        )
    }

    fn list(self) -> PgQuery {
        self.query(
            "SELECT body, personal FROM audit_entries WHERE org_id = $1 AND seq > $2
             ORDER BY seq LIMIT $3",
            "SELECT body, personal FROM provider_audit_entries WHERE seq > $1
             ORDER BY seq LIMIT $2",
        )
    }

    fn erase(self) -> PgQuery {
        self.query(
            "UPDATE audit_entries SET personal = NULL
             WHERE org_id = $1 AND seq = $2 AND personal IS NOT NULL",
            "UPDATE provider_audit_entries SET personal = NULL
             WHERE seq = $1 AND personal IS NOT NULL",
        )
    }

    fn exists(self) -> PgQuery {
        self.query(
            "SELECT 1 FROM audit_entries WHERE org_id = $1 AND seq = $2",
            "SELECT 1 FROM provider_audit_entries WHERE seq = $1",
        )
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt { what: what.into() }
}

async fn head(c: &mut PgConnection, chain: Chain) -> StoreResult<ChainHead> {
    let row = chain.head().fetch_optional(c).await.map_err(sql)?;
    let Some(r) = row else {
        return Ok(ChainHead::GENESIS);
    };
    let seq =
        u64::try_from(get::<i64>(&r, "seq")?).map_err(|_| corrupt("an audit sequence number"))?;
    let mac = <[u8; 32]>::try_from(get::<Vec<u8>>(&r, "mac")?.as_slice())
        .map_err(|_| corrupt("an audit MAC"))?;
    Ok(ChainHead {
        count: seq
            .checked_add(1)
            .ok_or_else(|| corrupt("an audit sequence number"))?,
        mac: Some(Mac::from_bytes(mac)),
    })
}

async fn append(
    c: &mut PgConnection,
    chain: Chain,
    after: ChainHead,
    entry: &AuditEntry,
) -> StoreResult<ChainHead> {
    if entry.event.org != chain.owner() {
        return Err(StoreError::InvalidInput {
            what: "audit entry organisation",
        });
    }
    let stored = head(&mut *c, chain).await?;
    if after != stored || entry.seq != stored.count {
        return Err(StoreError::Conflict(ConflictKind::ChainMismatch));
    }
    let seq = i64::try_from(entry.seq).map_err(|_| StoreError::InvalidInput {
        what: "audit sequence number",
    })?;
    // The body holds the erased form only; the values go to their own column.
    let personal = if entry.event.personal.is_erased() {
        None
    } else {
        Some(body(&entry.event.personal)?)
    };
    let mut stored_entry = entry.clone();
    stored_entry.erase_personal();
    let inserted = chain
        .insert()
        .bind(seq)
        .bind(entry.mac.as_bytes().to_vec())
        .bind(body(&stored_entry)?)
        .bind(personal)
        .execute(c)
        .await;
    match inserted {
        Ok(_) => Ok(ChainHead {
            count: stored.count.saturating_add(1),
            mac: Some(entry.mac),
        }),
        // The head read above showed no entry at `seq`: one there now was written by a
        // concurrent transaction that read the same head and committed first. This append
        // must be re-run on the new head (the transaction is aborted now anyway).
        Err(e) if unique_violation(&e).is_some() => Err(StoreError::Retryable {
            reason: "a concurrent audit append after the same head".into(),
        }),
        Err(e) => Err(sql(e)),
    }
}

fn entry_from_row(r: &PgRow) -> StoreResult<AuditEntry> {
    let mut entry: AuditEntry = from_body(&get::<Vec<u8>>(r, "body")?, "audit entry")?;
    if let Some(personal) = get::<Option<Vec<u8>>>(r, "personal")? {
        let values: PersonalValues = from_body(&personal, "audit entry's personal values")?;
        // The values must be those the stored hash covers.
        if values.hash() != entry.event.personal.hash() {
            return Err(corrupt("an audit entry's personal values"));
        }
        entry.event.personal = values;
    }
    Ok(entry)
}

async fn entries(
    c: &mut PgConnection,
    chain: Chain,
    page: &PageRequest,
) -> StoreResult<Page<AuditEntry>> {
    let limit = page.checked_limit()?;
    let after = match &page.after {
        Some(cursor) => i64::from_be_bytes(decode_cursor::<8>(CURSOR, cursor)?),
        None => -1,
    };
    let rows = chain
        .list()
        .bind(after)
        .bind(fetch_limit(limit))
        .fetch_all(c)
        .await
        .map_err(sql)?;
    let out = rows
        .iter()
        .map(entry_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(page_of(out, limit, |e: &AuditEntry| {
        let seq = i64::try_from(e.seq).unwrap_or(i64::MAX);
        encode_cursor(CURSOR, &seq.to_be_bytes())
    }))
}

async fn erase(c: &mut PgConnection, chain: Chain, seq: u64) -> StoreResult<()> {
    let seq = i64::try_from(seq).map_err(|_| StoreError::NotFound)?;
    let changed = chain
        .erase()
        .bind(seq)
        .execute(&mut *c)
        .await
        .map_err(sql)?;
    if changed.rows_affected() == 1 {
        return Ok(());
    }
    // Nothing changed: erased already (nothing to do), or no such entry.
    match chain
        .exists()
        .bind(seq)
        .fetch_optional(c)
        .await
        .map_err(sql)?
    {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound),
    }
}

#[async_trait]
impl AuditTx for PgTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        append(
            self.tx.conn(),
            Chain::Org(self.org.as_uuid()),
            after,
            &entry,
        )
        .await
    }

    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        head(self.tx.conn(), Chain::Org(self.org.as_uuid())).await
    }

    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        entries(self.tx.conn(), Chain::Org(self.org.as_uuid()), &page).await
    }

    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        erase(self.tx.conn(), Chain::Org(self.org.as_uuid()), seq).await
    }
}

#[async_trait]
impl AuditProvider for PgProviderTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        append(self.tx.conn(), Chain::Provider, after, &entry).await
    }

    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        head(self.tx.conn(), Chain::Provider).await
    }

    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        entries(self.tx.conn(), Chain::Provider, &page).await
    }

    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        erase(self.tx.conn(), Chain::Provider, seq).await
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use selfcare_core::audit::{
        AuditActor, AuditChain, AuditEvent, AuditEventName, AuditTarget, HostKey, Outcome,
    };
    use selfcare_core::ids::AuditEntryId;
    use selfcare_core::roles::Channel;
    use selfcare_storage::Store;
    use time::macros::datetime;

    use super::*;
    use crate::PgConfig;
    use crate::testing::TestDatabase;

    fn event(org: Option<OrgId>, n: u8, target: AuditTarget) -> AuditEvent {
        let at = datetime!(2025-03-01 09:00 UTC);
        AuditEvent {
            id: AuditEntryId::new(at, [n; 10]),
            at,
            org,
            actor: AuditActor::Anonymous,
            channel: Channel::Portal,
            event: AuditEventName::AuthnLoginFail,
            target,
            changed_fields: Vec::new(),
            outcome: Outcome::Success,
            reason: None,
            note: None,
            personal: PersonalValues::none(),
        }
    }

    /// AUD-1 under concurrency: two transactions read the same head and both append after it;
    /// the one that commits first wins, the other's append (or commit) is `Retryable` — never
    /// a second entry at one `seq`, never `Duplicate` or `Internal` — and the chain verifies.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aud_1_concurrent_appends_after_one_head_end_retryable() {
        let Some(db) =
            TestDatabase::from_env("aud_1_concurrent_appends_after_one_head_end_retryable")
        else {
            return;
        };
        let store = db.fresh_store(PgConfig::default()).await.unwrap();
        let key = HostKey::from_bytes(&[7; 32]).unwrap();
        let org = OrgId::new(datetime!(2025-01-01 00:00 UTC), [1; 10]);

        // The organisation's chain.
        let mut first = store.begin(org).await.unwrap();
        let mut second = store.begin(org).await.unwrap();
        let head = first.audit_head().await.unwrap();
        assert_eq!(second.audit_head().await.unwrap(), head);
        let (a, a_head) = AuditChain::append(
            &head,
            event(Some(org), 1, AuditTarget::of("user", 1).unwrap()),
            &key,
        );
        let (b, _) = AuditChain::append(
            &head,
            event(Some(org), 2, AuditTarget::of("user", 2).unwrap()),
            &key,
        );
        first.append_audit(head, a).await.unwrap();
        first.commit().await.unwrap();
        let lost = match second.append_audit(head, b).await {
            Ok(_) => second.commit().await,
            Err(e) => Err(e),
        };
        assert!(
            matches!(lost, Err(StoreError::Retryable { .. })),
            "the second append gave {lost:?}"
        );
        let mut tx = store.begin(org).await.unwrap();
        assert_eq!(tx.audit_head().await.unwrap(), a_head);
        let read = tx.audit_entries(PageRequest::first(10)).await.unwrap();
        assert_eq!(
            AuditChain::verify_chain(&read.items, &key, None),
            Ok(a_head)
        );
        drop(tx);

        // The provider's chain, the second append waiting on the first's uncommitted entry.
        let mut first = store.begin_provider().await.unwrap();
        let mut second = store.begin_provider().await.unwrap();
        let head = first.audit_head().await.unwrap();
        assert_eq!(second.audit_head().await.unwrap(), head);
        let (a, a_head) = AuditChain::append(
            &head,
            event(None, 3, AuditTarget::of("user", 3).unwrap()),
            &key,
        );
        let (b, _) = AuditChain::append(
            &head,
            event(None, 4, AuditTarget::of("user", 4).unwrap()),
            &key,
        );
        first.append_audit(head, a).await.unwrap();
        let waiting = tokio::spawn(async move {
            match second.append_audit(head, b).await {
                Ok(_) => second.commit().await,
                Err(e) => Err(e),
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        first.commit().await.unwrap();
        let lost = waiting.await.unwrap();
        assert!(
            matches!(lost, Err(StoreError::Retryable { .. })),
            "the waiting provider append gave {lost:?}"
        );
        let mut tx = store.begin_provider().await.unwrap();
        assert_eq!(tx.audit_head().await.unwrap(), a_head);
    }
}
