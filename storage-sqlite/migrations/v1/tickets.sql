-- Support tickets (TKT-1): the ticket as JSON beside the columns the lists read.
CREATE TABLE tickets (
    org_id      BLOB    NOT NULL,
    id          BLOB    NOT NULL,
    department  TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    resolved_at INTEGER,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    body        BLOB    NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;
-- The organisation's list filtered by status, newest first.
CREATE INDEX tickets_by_status ON tickets (org_id, status, id);
-- The staff queues: one range per (department, status), by ticket id (covering).
CREATE INDEX tickets_staff_queue ON tickets (department, status, id, org_id, updated_at);
-- The automatic close: resolved tickets by the time they were resolved.
CREATE INDEX tickets_resolved ON tickets (status, resolved_at, id, org_id);

-- Messages on a ticket (TKT-2): insert-only, listed by id (the order of writing).
CREATE TABLE ticket_messages (
    org_id    BLOB NOT NULL,
    ticket_id BLOB NOT NULL,
    id        BLOB NOT NULL,
    body      BLOB NOT NULL,
    PRIMARY KEY (org_id, ticket_id, id),
    FOREIGN KEY (org_id, ticket_id) REFERENCES tickets (org_id, id)
) STRICT;
