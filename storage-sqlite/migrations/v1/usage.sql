-- Quotas (TOP-2, TOP-3, ACC-5): one versioned row per SIM, the quota state as JSON.
CREATE TABLE quotas (
    org_id  BLOB    NOT NULL,
    sim_id  BLOB    NOT NULL,
    version INTEGER NOT NULL,
    body    BLOB    NOT NULL,
    PRIMARY KEY (org_id, sim_id)
) STRICT;

-- The usage records applied (TOP-2). The network's record ids are unique across
-- organisations: a second delivery of one id is refused whoever sent it.
CREATE TABLE usage_records_seen (
    org_id    BLOB NOT NULL,
    record_id TEXT NOT NULL,
    sim_id    BLOB NOT NULL,
    PRIMARY KEY (org_id, record_id)
) STRICT;
CREATE UNIQUE INDEX usage_records_seen_by_id ON usage_records_seen (record_id);
