
-- Support tickets (TKT-1): the ticket as JSON beside the columns the lists read.
CREATE TABLE tickets (
    org_id      uuid   NOT NULL,
    id          uuid   NOT NULL,
    department  text   NOT NULL,
    status      text   NOT NULL,
    resolved_at bigint,
    updated_at  bigint NOT NULL,
    version     bigint NOT NULL,
    body        bytea  NOT NULL,
    PRIMARY KEY (org_id, id)
);
-- The organisation's list filtered by status, newest first.
CREATE INDEX tickets_by_status ON tickets (org_id, status, id);
-- The staff queues: one range per (department, status), by ticket id (covering: the queue
-- reads updated_at too, so it can be an index-only scan).
CREATE INDEX tickets_staff_queue ON tickets (department, status, id, org_id) INCLUDE (updated_at);
-- The automatic close: resolved tickets by the time they were resolved.
CREATE INDEX tickets_resolved ON tickets (status, resolved_at, id, org_id);

-- Messages on a ticket (TKT-2): insert-only, listed by id (the order of writing).
CREATE TABLE ticket_messages (
    org_id    uuid  NOT NULL,
    ticket_id uuid  NOT NULL,
    id        uuid  NOT NULL,
    body      bytea NOT NULL,
    PRIMARY KEY (org_id, ticket_id, id),
    FOREIGN KEY (org_id, ticket_id) REFERENCES tickets (org_id, id)
);
