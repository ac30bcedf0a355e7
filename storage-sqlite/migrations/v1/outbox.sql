-- The notification outbox (DESIGN §3): what a message says as JSON (`content`, never changed),
-- its delivery state as columns.
CREATE TABLE outbox (
    org_id          BLOB    NOT NULL,
    id              BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER,
    delivered_at    INTEGER,
    dead            INTEGER NOT NULL CHECK (dead IN (0, 1)),
    last_error      TEXT,
    content         BLOB    NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;
-- Leasing: the pending messages in creation order; delivered ones and dead letters leave it.
CREATE INDEX outbox_pending ON outbox (created_at, id, org_id)
    WHERE delivered_at IS NULL AND dead = 0;
-- The dead letters (not delivered since), oldest first.
CREATE INDEX outbox_dead ON outbox (id, org_id)
    WHERE delivered_at IS NULL AND dead = 1;
