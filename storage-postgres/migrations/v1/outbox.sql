
-- The notification outbox (DESIGN §3): what a message says as JSON (`content`, never changed),
-- its delivery state as columns.
CREATE TABLE outbox (
    org_id          uuid    NOT NULL,
    id              uuid    NOT NULL,
    created_at      bigint  NOT NULL,
    attempts        bigint  NOT NULL,
    next_attempt_at bigint  NOT NULL,
    leased_until    bigint,
    delivered_at    bigint,
    dead            boolean NOT NULL,
    last_error      text,
    content         bytea   NOT NULL,
    PRIMARY KEY (org_id, id)
);
-- Leasing: the pending messages in creation order; delivered ones and dead letters leave it.
CREATE INDEX outbox_pending ON outbox (created_at, id, org_id)
    WHERE delivered_at IS NULL AND NOT dead;
-- The dead letters (not delivered since), oldest first.
CREATE INDEX outbox_dead ON outbox (id, org_id)
    WHERE delivered_at IS NULL AND dead;
