
-- SIMs, plans and provisioning requests (SIM-2, ORD-3, PLAN-1, PLAN-2).
--
-- A SIM is a row of real columns. The ORD-3 export of one order (up to a million SIMs) is one
-- index range in id order: (org_id, order_id, id) is the primary key, and the export reads
-- the table through it. The SIM's identity (org_id, id) is a unique index beside it; the ICCID
-- is unique across organisations.
CREATE TABLE sims (
    org_id      uuid    NOT NULL,
    order_id    uuid    NOT NULL,
    id          uuid    NOT NULL,
    iccid       text    NOT NULL,
    imsi        text,
    msisdn      text,
    label       text    NOT NULL,
    status      text    NOT NULL CHECK (status IN ('enabled', 'disabled')),
    tariff      text,
    plan_id     uuid,
    auto_top_up boolean NOT NULL,
    version     bigint  NOT NULL,
    PRIMARY KEY (org_id, order_id, id),
    CHECK ((tariff IS NULL) <> (plan_id IS NULL))
);
-- `sim`, `update_sim` and the unfiltered list (by id ascending).
CREATE UNIQUE INDEX sims_by_id ON sims (org_id, id);
-- `sim_by_iccid`, and the ICCID unique across organisations.
CREATE UNIQUE INDEX sims_by_iccid ON sims (iccid);
-- The list filtered by status alone.
CREATE INDEX sims_by_status ON sims (org_id, status, id);

-- Consumer plans: the plan as JSON; its order as a column (it never changes).
CREATE TABLE plans (
    org_id   uuid   NOT NULL,
    id       uuid   NOT NULL,
    order_id uuid   NOT NULL,
    version  bigint NOT NULL,
    body     bytea  NOT NULL,
    PRIMARY KEY (org_id, id)
);

-- Provisioning requests: the request as JSON beside the columns the queries read.
CREATE TABLE provisioning (
    org_id       uuid   NOT NULL,
    id           uuid   NOT NULL,
    plan_id      uuid   NOT NULL,
    state        text   NOT NULL,
    requested_at bigint NOT NULL,
    version      bigint NOT NULL,
    body         bytea  NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, plan_id) REFERENCES plans (org_id, id)
);
-- The provider's timeout sweep: pending requests, oldest first.
CREATE INDEX provisioning_due ON provisioning (state, requested_at, org_id, id);
-- `provisioning_by_id`: the network's completion names only the request.
CREATE INDEX provisioning_by_id ON provisioning (id);
