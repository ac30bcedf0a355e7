
-- Quotas (TOP-2, TOP-3, ACC-5): one versioned row per SIM, the quota state as JSON.
CREATE TABLE quotas (
    org_id  uuid   NOT NULL,
    sim_id  uuid   NOT NULL,
    version bigint NOT NULL,
    body    bytea  NOT NULL,
    PRIMARY KEY (org_id, sim_id)
);

-- The usage records applied (TOP-2). The network's record ids are unique across
-- organisations: a second delivery of one id is refused whoever sent it.
CREATE TABLE usage_records_seen (
    org_id    uuid NOT NULL,
    record_id text NOT NULL,
    sim_id    uuid NOT NULL,
    PRIMARY KEY (org_id, record_id)
);
CREATE UNIQUE INDEX usage_records_seen_by_id ON usage_records_seen (record_id);
