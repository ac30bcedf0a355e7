-- Payments (PAY-*, ORD-5): the payment-settings aggregate, payment intents, idempotency records.

-- One versioned aggregate per organisation (cards, card → plan assignments, Auto-Top-Up).
CREATE TABLE payment_settings (
    org_id  BLOB    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    body    BLOB    NOT NULL
) STRICT;

-- A payment intent per idempotency key. `body` is the record as JSON without its result;
-- the result bytes are their own column (they are replayed byte for byte). The queried
-- fields are columns: key (unique per organisation), state and lease time (maintenance).
CREATE TABLE payment_intents (
    org_id     BLOB    NOT NULL,
    id         BLOB    NOT NULL,
    key        TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    leased_at  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    result     BLOB,
    PRIMARY KEY (org_id, id)
) STRICT;
CREATE UNIQUE INDEX payment_intents_key ON payment_intents (org_id, key);
-- Maintenance: the intents that can still go on, by lease time, one partial index per state
-- (SQLite uses a partial index only when the query names its condition exactly). A final
-- intent leaves them, and an order with nothing to charge, whose intent is written final,
-- never enters them: placing such an order writes neither.
CREATE INDEX payment_intents_pending ON payment_intents (leased_at)
    WHERE state = 'pending';
CREATE INDEX payment_intents_waiting ON payment_intents (leased_at)
    WHERE state = 'action_required';

-- The first result of an idempotent request, written once; purged after 7 days.
CREATE TABLE idempotency_records (
    org_id      BLOB    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    result      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
) STRICT;
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);
