
-- The audit log (AUD-1): one HMAC chain per organisation and the provider's own chain.
--
-- `body` is the entry as JSON with its personal values in their erased form (only their
-- hash); the personal values themselves are the `personal` column, set to NULL when they are
-- erased. So erasure touches one column, and no erased value lingers in the body.
CREATE TABLE audit_entries (
    org_id   uuid   NOT NULL,
    seq      bigint NOT NULL,
    mac      bytea  NOT NULL,
    body     bytea  NOT NULL,
    personal bytea,
    PRIMARY KEY (org_id, seq)
);

-- The provider's chain: no organisation, provider transactions only, so no row-level policy.
CREATE TABLE provider_audit_entries (
    seq      bigint NOT NULL PRIMARY KEY,
    mac      bytea  NOT NULL,
    body     bytea  NOT NULL,
    personal bytea
);
