
-- Orders (ORD-1, ORD-2, ORD-4): the order aggregate, its documents' metadata, their bytes.

-- An order: the core `Order` as JSON in `body`; the fields queried or sorted on are columns.
-- `number` (40 bits) is unique across organisations, for the guest lookup. Lists run newest
-- first by id (UUID v7) on the primary key; `placed_at` and the gross total (integer minor
-- units + currency) are kept beside the body for reports.
CREATE TABLE orders (
    org_id      uuid   NOT NULL,
    id          uuid   NOT NULL,
    number      bigint NOT NULL,
    placed_at   bigint NOT NULL,
    gross_minor bigint NOT NULL,
    currency    text   NOT NULL,
    version     bigint NOT NULL,
    body        bytea  NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX orders_number ON orders (number);

-- Document metadata (invoice, additional documents): insert-only, listed per order by id.
CREATE TABLE order_documents (
    org_id   uuid  NOT NULL,
    id       uuid  NOT NULL,
    order_id uuid  NOT NULL,
    body     bytea NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, order_id) REFERENCES orders (org_id, id)
);
CREATE INDEX order_documents_by_order ON order_documents (org_id, order_id, id);

-- A document's bytes (the PDF), apart from its metadata so a list never loads them.
CREATE TABLE document_bytes (
    org_id      uuid  NOT NULL,
    document_id uuid  NOT NULL,
    bytes       bytea NOT NULL,
    PRIMARY KEY (org_id, document_id),
    FOREIGN KEY (org_id, document_id) REFERENCES order_documents (org_id, id)
);
