//! Orders (ORD-1, ORD-2, ORD-4): the order aggregate as JSON beside its queried columns
//! (number, `placed_at`, gross total in minor units + currency), document metadata, and the
//! documents' bytes in a table of their own, so a list of documents never loads a PDF.
//!
//! A refused insert (a taken id or number, a document of an unknown order) must leave the
//! transaction usable (the contract's callers go on and commit), and PostgreSQL aborts a
//! transaction after any failed statement: so inserts are `INSERT … SELECT … WHERE EXISTS
//! (parent) ON CONFLICT DO NOTHING`, which refuses without failing, and only when nothing was
//! written does a second read tell why.

use async_trait::async_trait;
use selfcare_core::ids::{DocumentId, OrderId, OrgId};
use selfcare_core::orders::{Order, OrderNumber};
use selfcare_storage::orders::{OrderDocument, OrderRecord, OrdersLookup, OrdersTx};
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::version::{Version, Versioned};
use selfcare_storage::{StoreError, StoreResult};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::columns::{
    body, decode_cursor, encode_cursor, from_body, get, get_version, instant, page_of, version,
};
use crate::error::sql;
use crate::lists::Keyset;
use crate::{PgStore, PgTx};

// ---------------------------------------------------------------------------------------------
// Orders

/// The tag of `list_orders` cursors (a cursor of another list is refused).
const ORDER_CURSOR: &str = "o";
/// The tag of `list_order_documents` cursors.
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

/// An order row (`version`, `body`) read back.
fn order_from(row: &PgRow) -> StoreResult<OrderRecord> {
    Ok(Versioned {
        value: from_body(get::<&[u8]>(row, "body")?, "order")?,
        version: get_version(row, "version")?,
    })
}

async fn read_order(c: &mut PgConnection, org: Uuid, id: Uuid) -> StoreResult<Option<OrderRecord>> {
    sqlx::query("SELECT version, body FROM orders WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(sql)?
        .as_ref()
        .map(order_from)
        .transpose()
}

async fn insert_order_row(c: &mut PgConnection, org: Uuid, order: &Order) -> StoreResult<Version> {
    let (gross, currency) = gross_columns(order)?;
    let id = order.id.as_uuid();
    // Any unique index (the key, the global number) refuses without failing the transaction.
    let inserted = sqlx::query(
        "INSERT INTO orders (org_id, id, number, placed_at, gross_minor, currency, version, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(id)
    .bind(number_column(order.number)?)
    .bind(instant(order.placed_at)?)
    .bind(gross)
    .bind(currency)
    .bind(version(Version::FIRST)?)
    .bind(body(order)?)
    .execute(&mut *c)
    .await
    .map_err(sql)?
    .rows_affected();
    if inserted == 1 {
        return Ok(Version::FIRST);
    }
    // An id and a number both taken: the id wins, as the contract lists it first.
    Err(if read_order(c, org, id).await?.is_some() {
        StoreError::duplicate("order")
    } else {
        StoreError::duplicate("order_number")
    })
}

async fn update_order_row(
    c: &mut PgConnection,
    org: Uuid,
    order: &Order,
    expected: Version,
) -> StoreResult<Version> {
    let next = expected.next();
    let (gross, currency) = gross_columns(order)?;
    let (id, number) = (order.id.as_uuid(), number_column(order.number)?);
    let changed = sqlx::query(
        "UPDATE orders SET version = $1, body = $2, placed_at = $3, gross_minor = $4,
             currency = $5
         WHERE org_id = $6 AND id = $7 AND version = $8 AND number = $9",
    )
    .bind(version(next)?)
    .bind(body(order)?)
    .bind(instant(order.placed_at)?)
    .bind(gross)
    .bind(currency)
    .bind(org)
    .bind(id)
    .bind(version(expected)?)
    .bind(number)
    .execute(&mut *c)
    .await
    .map_err(sql)?
    .rows_affected();
    if changed == 1 {
        return Ok(next);
    }
    // Nothing written: say why.
    let stored = sqlx::query("SELECT version FROM orders WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(sql)?;
    Err(match stored {
        None => StoreError::NotFound,
        Some(row) if get::<i64>(&row, "version")? != version(expected)? => StoreError::stale(),
        Some(_) => StoreError::InvalidInput {
            what: "order number",
        },
    })
}

async fn list_order_rows(
    c: &mut PgConnection,
    org: Uuid,
    page: &PageRequest,
) -> StoreResult<Page<OrderRecord>> {
    let limit = page.checked_limit()?;
    // Newest first, a backward range of the primary key: before the cursor's id, or from the
    // largest id (a statement without the bound, so no id is excluded by a sentinel).
    const ORDERS: Keyset = Keyset {
        first: "SELECT version, body FROM orders WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
        after: "SELECT version, body FROM orders WHERE org_id = $1 AND id < $2
                ORDER BY id DESC LIMIT $3",
    };
    let before = page
        .after
        .as_ref()
        .map(|cursor| decode_cursor::<16>(ORDER_CURSOR, cursor).map(Uuid::from_bytes))
        .transpose()?;
    let rows = ORDERS.rows(c, |q| q.bind(org), before, limit).await?;
    let out = rows
        .iter()
        .map(order_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(page_of(out, limit, |r: &OrderRecord| {
        encode_cursor(ORDER_CURSOR, r.value.id.as_uuid().as_bytes())
    }))
}

// ---------------------------------------------------------------------------------------------
// Documents

async fn insert_document_row(
    c: &mut PgConnection,
    org: Uuid,
    document: &OrderDocument,
) -> StoreResult<()> {
    let id = document.id().as_uuid();
    // Written only under an order of this organisation, and never over an existing id.
    let inserted = sqlx::query(
        "INSERT INTO order_documents (org_id, id, order_id, body)
         SELECT $1, $2, $3, $4
         WHERE EXISTS (SELECT 1 FROM orders WHERE org_id = $1 AND id = $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(id)
    .bind(document.order().as_uuid())
    .bind(body(document)?)
    .execute(&mut *c)
    .await
    .map_err(sql)?
    .rows_affected();
    if inserted == 1 {
        return Ok(());
    }
    Err(if document_exists(c, org, id).await? {
        StoreError::duplicate("document")
    } else {
        StoreError::NotFound
    })
}

async fn document_exists(c: &mut PgConnection, org: Uuid, id: Uuid) -> StoreResult<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM order_documents WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(sql)?;
    Ok(row.is_some())
}

async fn read_document(
    c: &mut PgConnection,
    org: Uuid,
    id: Uuid,
) -> StoreResult<Option<OrderDocument>> {
    sqlx::query("SELECT body FROM order_documents WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(sql)?
        .map(|row| from_body(get::<&[u8]>(&row, "body")?, "document"))
        .transpose()
}

async fn list_document_rows(
    c: &mut PgConnection,
    org: Uuid,
    order: Uuid,
    page: &PageRequest,
) -> StoreResult<Page<OrderDocument>> {
    let limit = page.checked_limit()?;
    // A range of the index (org_id, order_id, id).
    const DOCUMENTS: Keyset = Keyset {
        first: "SELECT body FROM order_documents WHERE org_id = $1 AND order_id = $2
                ORDER BY id LIMIT $3",
        after: "SELECT body FROM order_documents WHERE org_id = $1 AND order_id = $2 AND id > $3
                ORDER BY id LIMIT $4",
    };
    let after = page
        .after
        .as_ref()
        .map(|cursor| decode_cursor::<16>(DOCUMENT_CURSOR, cursor).map(Uuid::from_bytes))
        .transpose()?;
    let rows = DOCUMENTS
        .rows(c, |q| q.bind(org).bind(order), after, limit)
        .await?;
    let out = rows
        .iter()
        .map(|row| from_body::<OrderDocument>(get::<&[u8]>(row, "body")?, "document"))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(page_of(out, limit, |d: &OrderDocument| {
        encode_cursor(DOCUMENT_CURSOR, d.id().as_uuid().as_bytes())
    }))
}

async fn put_bytes(c: &mut PgConnection, org: Uuid, id: Uuid, bytes: &[u8]) -> StoreResult<()> {
    // Written only beside this organisation's metadata, and once.
    let inserted = sqlx::query(
        "INSERT INTO document_bytes (org_id, document_id, bytes)
         SELECT $1, $2, $3
         WHERE EXISTS (SELECT 1 FROM order_documents WHERE org_id = $1 AND id = $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(id)
    .bind(bytes)
    .execute(&mut *c)
    .await
    .map_err(sql)?
    .rows_affected();
    if inserted == 1 {
        return Ok(());
    }
    Err(if document_exists(c, org, id).await? {
        StoreError::duplicate("document_bytes")
    } else {
        StoreError::NotFound
    })
}

async fn read_bytes(c: &mut PgConnection, org: Uuid, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
    sqlx::query("SELECT bytes FROM document_bytes WHERE org_id = $1 AND document_id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(sql)?
        .map(|row| get::<Vec<u8>>(&row, "bytes"))
        .transpose()
}

#[async_trait]
impl OrdersTx for PgTx {
    async fn insert_order(&mut self, order: Order) -> StoreResult<Version> {
        if order.org != self.org {
            return Err(StoreError::InvalidInput { what: "order org" });
        }
        insert_order_row(self.tx.conn(), self.org.as_uuid(), &order).await
    }

    async fn order(&mut self, id: OrderId) -> StoreResult<Option<OrderRecord>> {
        read_order(self.tx.conn(), self.org.as_uuid(), id.as_uuid()).await
    }

    async fn update_order(&mut self, order: Order, expected: Version) -> StoreResult<Version> {
        if order.org != self.org {
            return Err(StoreError::InvalidInput { what: "order org" });
        }
        update_order_row(self.tx.conn(), self.org.as_uuid(), &order, expected).await
    }

    async fn list_orders(&mut self, page: &PageRequest) -> StoreResult<Page<OrderRecord>> {
        list_order_rows(self.tx.conn(), self.org.as_uuid(), page).await
    }

    async fn has_orders(&mut self) -> StoreResult<bool> {
        // One probe of the primary key; no order is read.
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM orders WHERE org_id = $1) AS found")
            .bind(self.org.as_uuid())
            .fetch_one(self.tx.conn())
            .await
            .map_err(sql)?;
        get::<bool>(&row, "found")
    }

    async fn insert_document(&mut self, document: OrderDocument) -> StoreResult<()> {
        insert_document_row(self.tx.conn(), self.org.as_uuid(), &document).await
    }

    async fn document(&mut self, id: DocumentId) -> StoreResult<Option<OrderDocument>> {
        read_document(self.tx.conn(), self.org.as_uuid(), id.as_uuid()).await
    }

    async fn list_order_documents(
        &mut self,
        order: OrderId,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderDocument>> {
        list_document_rows(self.tx.conn(), self.org.as_uuid(), order.as_uuid(), page).await
    }

    async fn put_document_bytes(&mut self, id: DocumentId, bytes: Vec<u8>) -> StoreResult<()> {
        put_bytes(self.tx.conn(), self.org.as_uuid(), id.as_uuid(), &bytes).await
    }

    async fn document_bytes(&mut self, id: DocumentId) -> StoreResult<Option<Vec<u8>>> {
        read_bytes(self.tx.conn(), self.org.as_uuid(), id.as_uuid()).await
    }
}

#[async_trait]
impl OrdersLookup for PgStore {
    async fn order_by_number(&self, number: &OrderNumber) -> StoreResult<Option<(OrgId, OrderId)>> {
        let number = number_column(*number)?;
        let mut tx = self.connections.lookup().await?;
        let row = sqlx::query("SELECT org_id, id FROM orders WHERE number = $1")
            .bind(number)
            .fetch_optional(tx.conn())
            .await
            .map_err(sql)?;
        tx.commit().await?;
        row.map(|row| {
            Ok((
                OrgId::from_uuid(get::<Uuid>(&row, "org_id")?),
                OrderId::from_uuid(get::<Uuid>(&row, "id")?),
            ))
        })
        .transpose()
    }
}
