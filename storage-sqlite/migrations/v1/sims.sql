-- SIMs, plans and provisioning requests (SIM-2, ORD-3, PLAN-1, PLAN-2).
--
-- A SIM is a row of real columns, clustered by (org_id, order_id, id): the ORD-3 export of
-- one order (up to a million SIMs, benchmarked against `sqlite3 -csv` on this table) is one
-- range scan of the table itself, in id order, with no lookup per row. The SIM's identity
-- (org_id, id) is a unique index beside it; the ICCID is unique across organisations.
-- The order is another area's table: `insert_sims` checks it exists in the organisation.
CREATE TABLE sims (
    org_id      BLOB    NOT NULL,
    order_id    BLOB    NOT NULL,
    id          BLOB    NOT NULL,
    iccid       TEXT    NOT NULL,
    imsi        TEXT,
    msisdn      TEXT,
    label       TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('enabled', 'disabled')),
    tariff      TEXT,
    plan_id     BLOB,
    auto_top_up INTEGER NOT NULL CHECK (auto_top_up IN (0, 1)),
    version     INTEGER NOT NULL,
    PRIMARY KEY (org_id, order_id, id),
    CHECK ((tariff IS NULL) <> (plan_id IS NULL))
) STRICT, WITHOUT ROWID;
-- `sim`, `update_sim` and the unfiltered list (by id ascending).
CREATE UNIQUE INDEX sims_by_id ON sims (org_id, id);
-- `sim_by_iccid`, and the ICCID unique across organisations.
CREATE UNIQUE INDEX sims_by_iccid ON sims (iccid);
-- The list filtered by status alone.
CREATE INDEX sims_by_status ON sims (org_id, status, id);

-- Consumer plans: the plan as JSON; its order as a column (it never changes).
CREATE TABLE plans (
    org_id   BLOB    NOT NULL,
    id       BLOB    NOT NULL,
    order_id BLOB    NOT NULL,
    version  INTEGER NOT NULL,
    body     BLOB    NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;

-- Provisioning requests: the request as JSON beside the columns the queries read.
CREATE TABLE provisioning (
    org_id       BLOB    NOT NULL,
    id           BLOB    NOT NULL,
    plan_id      BLOB    NOT NULL,
    state        TEXT    NOT NULL,
    requested_at INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, plan_id) REFERENCES plans (org_id, id)
) STRICT;
-- The provider's timeout sweep: pending requests, oldest first.
CREATE INDEX provisioning_due ON provisioning (state, requested_at, org_id, id);
-- `provisioning_by_id`: the network's completion names only the request.
CREATE INDEX provisioning_by_id ON provisioning (id);
