
-- Payments (PAY-*, ORD-5): the payment-settings aggregate, payment intents, idempotency records.

-- One versioned aggregate per organisation (cards, card → plan assignments, Auto-Top-Up).
CREATE TABLE payment_settings (
    org_id  uuid   NOT NULL PRIMARY KEY,
    version bigint NOT NULL,
    body    bytea  NOT NULL
);

-- A payment intent per idempotency key. `body` is the record as JSON without its result;
-- the result bytes are their own column (they are replayed byte for byte). The queried
-- fields are columns: key (unique per organisation), state and lease time (maintenance).
CREATE TABLE payment_intents (
    org_id     uuid   NOT NULL,
    id         uuid   NOT NULL,
    key        text   NOT NULL,
    state      text   NOT NULL,
    leased_at  bigint NOT NULL,
    created_at bigint NOT NULL,
    version    bigint NOT NULL,
    body       bytea  NOT NULL,
    result     bytea,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX payment_intents_key ON payment_intents (org_id, key);
-- Maintenance: the intents that can still go on, by lease time. A final intent leaves the
-- index; an order with nothing to charge, written final, never enters it.
CREATE INDEX payment_intents_due ON payment_intents (state, leased_at, org_id, id)
    WHERE state IN ('pending', 'action_required');

-- The first result of an idempotent request, written once; purged after 7 days.
CREATE TABLE idempotency_records (
    org_id      uuid   NOT NULL,
    key         text   NOT NULL,
    fingerprint text   NOT NULL,
    result      bytea  NOT NULL,
    created_at  bigint NOT NULL,
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);
