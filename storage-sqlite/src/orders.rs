//! Orders (ORD-1, ORD-2, ORD-4): the order aggregate as JSON beside its queried columns
//! (number, `placed_at`, gross total in minor units + currency), document metadata, and the
//! documents' bytes in a table of their own, so a list of documents never loads a PDF.
//!
//! Also the keyset cursors of this crate's lists in the payments, orders and audit areas
//! ([`encode_cursor`], [`decode_cursor`]).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use selfcare_core::ids::{DocumentId, OrderId, OrgId};
use selfcare_core::orders::{Order, OrderNumber};
use selfcare_storage::orders::{OrderDocument, OrderRecord, OrdersLookup, OrdersTx};
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::version::{Version, Versioned};
use selfcare_storage::{StoreError, StoreResult};
use uuid::Uuid;

use crate::codec::{body, from_body, id_bytes, instant, uuid_from, version, version_from};
use crate::error::{is_foreign_key_violation, sql};
use crate::pages::{decode_cursor, encode_cursor, fetch_limit, page_of};
use crate::{SqliteStore, SqliteTx};

// ---------------------------------------------------------------------------------------------
// Orders

const ORDER_CURSOR: &str = "o";
const DOCUMENT_CURSOR: &str = "d";

/// The order number as a column: its 40 bits.
fn number_column(number: OrderNumber) -> StoreResult<i64> {
    i64::try_from(number.bits()).map_err(|_| StoreError::InvalidInput {
        what: "order number",
    })
}

/// The gross total as integer minor units and currency code.
fn gross_columns(order: &Order) -> StoreResult<(i64, &'static str)> {
    let gross = order.priced.totals.gross;
    let minor = gross.to_minor().map_err(|_| StoreError::InvalidInput {
        what: "order total",
    })?;
    Ok((minor, gross.currency.code()))
}

/// An order row read back: its version and body.
fn order_from(v: i64, b: &[u8]) -> StoreResult<OrderRecord> {
    Ok(Versioned {
        value: from_body(b, "order")?,
        version: version_from(v)?,
    })
}

fn read_order(c: &Connection, org: Uuid, id: Uuid) -> StoreResult<Option<OrderRecord>> {
    let row: Option<(i64, Vec<u8>)> = c
        .prepare_cached("SELECT version, body FROM orders WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(id)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(sql)?;
    row.map(|(v, b)| order_from(v, &b)).transpose()
}

fn insert_order_row(c: &Connection, org: Uuid, order: &Order) -> StoreResult<Version> {
    let (gross, currency) = gross_columns(order)?;
    let inserted = c
        .prepare_cached(
            "INSERT INTO orders (org_id, id, number, placed_at, gross_minor, currency, version, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            id_bytes(order.id.as_uuid()),
            number_column(order.number)?,
            instant(order.placed_at)?,
            gross,
            currency,
            version(Version::FIRST)?,
            body(order)?,
        ]);
    match inserted {
        Ok(_) => Ok(Version::FIRST),
        // An id and a number both taken: SQLite may name either index first; the id wins,
        // as the contract lists it first.
        Err(e) if constraint(&e).is_some() => {
            Err(if read_order(c, org, order.id.as_uuid())?.is_some() {
                StoreError::duplicate("order")
            } else {
                StoreError::duplicate("order_number")
            })
        }
        Err(e) => Err(sql(e)),
    }
}

fn update_order_row(
    c: &Connection,
    org: Uuid,
    order: &Order,
    expected: Version,
) -> StoreResult<Version> {
    let next = expected.next();
    let (gross, currency) = gross_columns(order)?;
    let (id, number) = (id_bytes(order.id.as_uuid()), number_column(order.number)?);
    let changed = c
        .prepare_cached(
            "UPDATE orders SET version = ?1, body = ?2, placed_at = ?3, gross_minor = ?4,
                 currency = ?5
             WHERE org_id = ?6 AND id = ?7 AND version = ?8 AND number = ?9",
        )
        .map_err(sql)?
        .execute(params![
            version(next)?,
            body(order)?,
            instant(order.placed_at)?,
            gross,
            currency,
            id_bytes(org),
            id,
            version(expected)?,
            number,
        ])
        .map_err(sql)?;
    if changed == 1 {
        return Ok(next);
    }
    // Nothing written: say why.
    let stored: Option<(i64, i64)> = c
        .prepare_cached("SELECT version, number FROM orders WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(sql)?;
    Err(match stored {
        None => StoreError::NotFound,
        Some((v, _)) if v != version(expected)? => StoreError::stale(),
        Some(_) => StoreError::InvalidInput {
            what: "order number",
        },
    })
}

fn list_order_rows(
    c: &Connection,
    org: Uuid,
    page: &PageRequest,
) -> StoreResult<Page<OrderRecord>> {
    let limit = page.checked_limit()?;
    // Newest first: before the cursor's id, or from the largest id.
    let before = match &page.after {
        Some(cursor) => decode_cursor::<16>(ORDER_CURSOR, cursor)?.to_vec(),
        None => vec![0xff; 17],
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT id, version, body FROM orders WHERE org_id = ?1 AND id < ?2
             ORDER BY id DESC LIMIT ?3",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map(params![id_bytes(org), before, fetch_limit(limit)], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(sql)?;
    let mut out = Vec::new();
    for row in rows {
        let (_, v, b) = row.map_err(sql)?;
        out.push(order_from(v, &b)?);
    }
    Ok(page_of(out, limit, |r: &OrderRecord| {
        encode_cursor(ORDER_CURSOR, r.value.id.as_uuid().as_bytes())
    }))
}

// ---------------------------------------------------------------------------------------------
// Documents

fn insert_document_row(c: &Connection, org: Uuid, document: &OrderDocument) -> StoreResult<()> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO order_documents (org_id, id, order_id, body) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            id_bytes(document.id().as_uuid()),
            id_bytes(document.order().as_uuid()),
            body(document)?,
        ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(e) => Err(match constraint(&e) {
            Some(Constraint::PrimaryKey | Constraint::Unique) => StoreError::duplicate("document"),
            Some(Constraint::ForeignKey) => StoreError::NotFound,
            None => sql(e),
        }),
    }
}

fn read_document(c: &Connection, org: Uuid, id: Uuid) -> StoreResult<Option<OrderDocument>> {
    let row: Option<Vec<u8>> = c
        .prepare_cached("SELECT body FROM order_documents WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(id)], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    row.map(|b| from_body(&b, "document")).transpose()
}

fn list_document_rows(
    c: &Connection,
    org: Uuid,
    order: Uuid,
    page: &PageRequest,
) -> StoreResult<Page<OrderDocument>> {
    let limit = page.checked_limit()?;
    let after = match &page.after {
        Some(cursor) => decode_cursor::<16>(DOCUMENT_CURSOR, cursor)?.to_vec(),
        None => Vec::new(),
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT body FROM order_documents WHERE org_id = ?1 AND order_id = ?2 AND id > ?3
             ORDER BY id LIMIT ?4",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map(
            params![id_bytes(org), id_bytes(order), after, fetch_limit(limit)],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .map_err(sql)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(from_body::<OrderDocument>(&row.map_err(sql)?, "document")?);
    }
    Ok(page_of(out, limit, |d: &OrderDocument| {
        encode_cursor(DOCUMENT_CURSOR, d.id().as_uuid().as_bytes())
    }))
}

fn put_bytes(c: &Connection, org: Uuid, id: Uuid, bytes: &[u8]) -> StoreResult<()> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO document_bytes (org_id, document_id, bytes) VALUES (?1, ?2, ?3)",
        )
        .map_err(sql)?
        .execute(params![id_bytes(org), id_bytes(id), bytes]);
    match inserted {
        Ok(_) => Ok(()),
        Err(e) => Err(match constraint(&e) {
            Some(Constraint::PrimaryKey | Constraint::Unique) => {
                StoreError::duplicate("document_bytes")
            }
            Some(Constraint::ForeignKey) => StoreError::NotFound,
            None => sql(e),
        }),
    }
}

fn read_bytes(c: &Connection, org: Uuid, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
    c.prepare_cached("SELECT bytes FROM document_bytes WHERE org_id = ?1 AND document_id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(id)], |r| r.get(0))
        .optional()
        .map_err(sql)
}

/// Which constraint a failed statement broke.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Constraint {
    /// The primary key.
    PrimaryKey,
    /// A UNIQUE index.
    Unique,
    /// A FOREIGN KEY.
    ForeignKey,
}

/// The constraint `e` broke, if it is a constraint violation of one of these kinds.
pub(crate) fn constraint(e: &rusqlite::Error) -> Option<Constraint> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Some(Constraint::PrimaryKey),
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => Some(Constraint::Unique),
            _ if is_foreign_key_violation(e) => Some(Constraint::ForeignKey),
            _ => None,
        },
        _ => None,
    }
}

#[async_trait]
impl OrdersTx for SqliteTx {
    async fn insert_order(&mut self, order: Order) -> StoreResult<Version> {
        if order.org != self.org {
            return Err(StoreError::InvalidInput { what: "order org" });
        }
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_order_row(c, org, &order))
            .await
    }

    async fn order(&mut self, id: OrderId) -> StoreResult<Option<OrderRecord>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| read_order(c, org, id.as_uuid()))
            .await
    }

    async fn update_order(&mut self, order: Order, expected: Version) -> StoreResult<Version> {
        if order.org != self.org {
            return Err(StoreError::InvalidInput { what: "order org" });
        }
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_order_row(c, org, &order, expected))
            .await
    }

    async fn list_orders(&mut self, page: &PageRequest) -> StoreResult<Page<OrderRecord>> {
        let org = self.org.as_uuid();
        let page = page.clone();
        self.conn
            .call(move |c| list_order_rows(c, org, &page))
            .await
    }

    async fn has_orders(&mut self) -> StoreResult<bool> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                c.prepare_cached("SELECT EXISTS (SELECT 1 FROM orders WHERE org_id = ?1)")
                    .map_err(sql)?
                    .query_row(params![id_bytes(org)], |r| r.get::<_, bool>(0))
                    .map_err(sql)
            })
            .await
    }

    async fn insert_document(&mut self, document: OrderDocument) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_document_row(c, org, &document))
            .await
    }

    async fn document(&mut self, id: DocumentId) -> StoreResult<Option<OrderDocument>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| read_document(c, org, id.as_uuid()))
            .await
    }

    async fn list_order_documents(
        &mut self,
        order: OrderId,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderDocument>> {
        let org = self.org.as_uuid();
        let page = page.clone();
        self.conn
            .call(move |c| list_document_rows(c, org, order.as_uuid(), &page))
            .await
    }

    async fn put_document_bytes(&mut self, id: DocumentId, bytes: Vec<u8>) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| put_bytes(c, org, id.as_uuid(), &bytes))
            .await
    }

    async fn document_bytes(&mut self, id: DocumentId) -> StoreResult<Option<Vec<u8>>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| read_bytes(c, org, id.as_uuid()))
            .await
    }
}

#[async_trait]
impl OrdersLookup for SqliteStore {
    async fn order_by_number(&self, number: &OrderNumber) -> StoreResult<Option<(OrgId, OrderId)>> {
        let number = number_column(*number)?;
        self.connections
            .read(move |c| {
                let row: Option<(Vec<u8>, Vec<u8>)> = c
                    .prepare_cached("SELECT org_id, id FROM orders WHERE number = ?1")
                    .map_err(sql)?
                    .query_row(params![number], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(sql)?;
                row.map(|(org, id)| {
                    Ok((
                        OrgId::from_uuid(uuid_from(&org)?),
                        OrderId::from_uuid(uuid_from(&id)?),
                    ))
                })
                .transpose()
            })
            .await
    }
}
