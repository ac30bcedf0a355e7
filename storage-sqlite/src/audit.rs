//! The audit log (AUD-1): every organisation's chain in `audit_entries`, keyed
//! `(org_id, seq)`, and the provider's chain in `provider_audit_entries`, keyed `seq`.
//!
//! A row's `body` is the entry as JSON with its personal values already in their erased form
//! (their hash only); the values themselves are the `personal` column. Reading puts them back;
//! erasing sets the column to NULL, so it changes the personal values and nothing else, and
//! no erased value is left in the body.
//!
//! An append compares the entry's `after` with the stored head inside the transaction (one
//! writer, `BEGIN IMMEDIATE`), so of two appends after the same head only the first is
//! written; the primary key refuses a second entry at one `seq` as well.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use selfcare_core::audit::{AuditEntry, ChainHead, Mac, PersonalValues};
use selfcare_core::ids::OrgId;
use selfcare_storage::audit::{AuditProvider, AuditTx};
use selfcare_storage::error::ConflictKind;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::{StoreError, StoreResult};
use uuid::Uuid;

use crate::codec::{body, from_body, id_bytes};
use crate::error::sql;
use crate::orders::{Constraint, constraint};
use crate::pages::{decode_cursor, encode_cursor, fetch_limit, page_of};
use crate::{SqliteProviderTx, SqliteTx};

const CURSOR: &str = "a";

/// Which chain a statement works on: an organisation's or the provider's. The SQL differs
/// only in the table and the organisation filter; both are constants here, never input.
/// Every statement takes the organisation as `?1`; the provider's statements receive NULL
/// there (`?1 IS NULL`), so both chains bind the same parameters.
#[derive(Clone, Copy)]
enum Chain {
    Org(Uuid),
    Provider,
}

impl Chain {
    /// The organisation the chain's entries must name (`None`: the provider).
    fn owner(self) -> Option<OrgId> {
        match self {
            Chain::Org(org) => Some(OrgId::from_uuid(org)),
            Chain::Provider => None,
        }
    }

    fn head_sql(self) -> &'static str {
        match self {
            Chain::Org(_) => {
                "SELECT seq, mac FROM audit_entries WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1"
            }
            Chain::Provider => {
                "SELECT seq, mac FROM provider_audit_entries WHERE ?1 IS NULL
                 ORDER BY seq DESC LIMIT 1"
            }
        }
    }

    fn insert_sql(self) -> &'static str {
        match self {
            Chain::Org(_) => {
                "INSERT INTO audit_entries (org_id, seq, mac, body, personal)
                 VALUES (?1, ?2, ?3, ?4, ?5)"
            }
            Chain::Provider => {
                "INSERT INTO provider_audit_entries (seq, mac, body, personal)
                 SELECT ?2, ?3, ?4, ?5 WHERE ?1 IS NULL"
            }
        }
    }

    fn list_sql(self) -> &'static str {
        match self {
            Chain::Org(_) => {
                "SELECT body, personal FROM audit_entries WHERE org_id = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3"
            }
            Chain::Provider => {
                "SELECT body, personal FROM provider_audit_entries WHERE ?1 IS NULL AND seq > ?2
                 ORDER BY seq LIMIT ?3"
            }
        }
    }

    fn exists_sql(self) -> &'static str {
        match self {
            Chain::Org(_) => {
                "SELECT personal IS NULL FROM audit_entries WHERE org_id = ?1 AND seq = ?2"
            }
            Chain::Provider => {
                "SELECT personal IS NULL FROM provider_audit_entries WHERE ?1 IS NULL AND seq = ?2"
            }
        }
    }

    fn erase_sql(self) -> &'static str {
        match self {
            Chain::Org(_) => {
                "UPDATE audit_entries SET personal = NULL WHERE org_id = ?1 AND seq = ?2"
            }
            Chain::Provider => {
                "UPDATE provider_audit_entries SET personal = NULL WHERE ?1 IS NULL AND seq = ?2"
            }
        }
    }

    /// The first parameter of every statement: the organisation, or NULL for the provider.
    fn org_param(self) -> Option<[u8; 16]> {
        match self {
            Chain::Org(org) => Some(id_bytes(org)),
            Chain::Provider => None,
        }
    }
}

fn seq_column(seq: u64) -> StoreResult<i64> {
    i64::try_from(seq).map_err(|_| StoreError::InvalidInput {
        what: "audit sequence number",
    })
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt { what: what.into() }
}

fn head(c: &Connection, chain: Chain) -> StoreResult<ChainHead> {
    let row: Option<(i64, Vec<u8>)> = c
        .prepare_cached(chain.head_sql())
        .map_err(sql)?
        .query_row(params![chain.org_param()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(sql)?;
    let Some((seq, mac)) = row else {
        return Ok(ChainHead::GENESIS);
    };
    let seq = u64::try_from(seq).map_err(|_| corrupt("an audit sequence number"))?;
    let mac = <[u8; 32]>::try_from(mac.as_slice()).map_err(|_| corrupt("an audit MAC"))?;
    Ok(ChainHead {
        count: seq
            .checked_add(1)
            .ok_or_else(|| corrupt("an audit sequence number"))?,
        mac: Some(Mac::from_bytes(mac)),
    })
}

fn append(
    c: &Connection,
    chain: Chain,
    after: ChainHead,
    entry: &AuditEntry,
) -> StoreResult<ChainHead> {
    if entry.event.org != chain.owner() {
        return Err(StoreError::InvalidInput {
            what: "audit entry organisation",
        });
    }
    let stored = head(c, chain)?;
    if after != stored || entry.seq != stored.count {
        return Err(StoreError::Conflict(ConflictKind::ChainMismatch));
    }
    // The body holds the erased form only; the values go to their own column.
    let personal = if entry.event.personal.is_erased() {
        None
    } else {
        Some(body(&entry.event.personal)?)
    };
    let mut stored_entry = entry.clone();
    stored_entry.erase_personal();
    let inserted = c
        .prepare_cached(chain.insert_sql())
        .map_err(sql)?
        .execute(params![
            chain.org_param(),
            seq_column(entry.seq)?,
            entry.mac.as_bytes().as_slice(),
            body(&stored_entry)?,
            personal,
        ]);
    match inserted {
        Ok(1) => Ok(ChainHead {
            count: stored.count.saturating_add(1),
            mac: Some(entry.mac),
        }),
        Ok(_) => Err(StoreError::Internal {
            reason: "an audit append wrote no row".into(),
        }),
        Err(e) => Err(match constraint(&e) {
            Some(Constraint::PrimaryKey | Constraint::Unique) => {
                StoreError::Conflict(ConflictKind::ChainMismatch)
            }
            _ => sql(e),
        }),
    }
}

fn entries(c: &Connection, chain: Chain, page: &PageRequest) -> StoreResult<Page<AuditEntry>> {
    let limit = page.checked_limit()?;
    let after = match &page.after {
        Some(cursor) => i64::from_be_bytes(decode_cursor::<8>(CURSOR, cursor)?),
        None => -1,
    };
    let mut stmt = c.prepare_cached(chain.list_sql()).map_err(sql)?;
    let rows = stmt
        .query_map(params![chain.org_param(), after, fetch_limit(limit)], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
        })
        .map_err(sql)?;
    let mut out = Vec::new();
    for row in rows {
        let (b, personal) = row.map_err(sql)?;
        let mut entry: AuditEntry = from_body(&b, "audit entry")?;
        if let Some(personal) = personal {
            let values: PersonalValues = from_body(&personal, "audit entry's personal values")?;
            // The values must be those the stored hash covers.
            if values.hash() != entry.event.personal.hash() {
                return Err(corrupt("an audit entry's personal values"));
            }
            entry.event.personal = values;
        }
        out.push(entry);
    }
    Ok(page_of(out, limit, |e: &AuditEntry| {
        let seq = i64::try_from(e.seq).unwrap_or(i64::MAX);
        encode_cursor(CURSOR, &seq.to_be_bytes())
    }))
}

fn erase(c: &Connection, chain: Chain, seq: u64) -> StoreResult<()> {
    let seq = i64::try_from(seq).map_err(|_| StoreError::NotFound)?;
    let erased: Option<bool> = c
        .prepare_cached(chain.exists_sql())
        .map_err(sql)?
        .query_row(params![chain.org_param(), seq], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    match erased {
        None => Err(StoreError::NotFound),
        Some(true) => Ok(()),
        Some(false) => {
            c.prepare_cached(chain.erase_sql())
                .map_err(sql)?
                .execute(params![chain.org_param(), seq])
                .map_err(sql)?;
            Ok(())
        }
    }
}

#[async_trait]
impl AuditTx for SqliteTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        let chain = Chain::Org(self.org.as_uuid());
        self.conn
            .call(move |c| append(c, chain, after, &entry))
            .await
    }

    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        let chain = Chain::Org(self.org.as_uuid());
        self.conn.call(move |c| head(c, chain)).await
    }

    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        let chain = Chain::Org(self.org.as_uuid());
        self.conn.call(move |c| entries(c, chain, &page)).await
    }

    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        let chain = Chain::Org(self.org.as_uuid());
        self.conn.call(move |c| erase(c, chain, seq)).await
    }
}

#[async_trait]
impl AuditProvider for SqliteProviderTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        self.conn
            .call(move |c| append(c, Chain::Provider, after, &entry))
            .await
    }

    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        self.conn.call(move |c| head(c, Chain::Provider)).await
    }

    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        self.conn
            .call(move |c| entries(c, Chain::Provider, &page))
            .await
    }

    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        self.conn
            .call(move |c| erase(c, Chain::Provider, seq))
            .await
    }
}
