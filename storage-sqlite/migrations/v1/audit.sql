-- The audit log (AUD-1): one HMAC chain per organisation and the provider's own chain.
--
-- `body` is the entry as JSON with its personal values in their erased form (only their
-- hash); the personal values themselves are the `personal` column, set to NULL when they are
-- erased. So erasure touches one column, and no erased value lingers in the body.

-- A rowid table, not clustered by its key: entries are appended and large (hundreds of
-- bytes), and SQLite appends to a rowid table by adding one page when the last one is full,
-- where a clustered table splits and rebalances several pages every few entries. Every
-- audited use case writes here, so this keeps its commit a few pages smaller.
CREATE TABLE audit_entries (
    org_id   BLOB    NOT NULL,
    seq      INTEGER NOT NULL,
    mac      BLOB    NOT NULL,
    body     BLOB    NOT NULL,
    personal BLOB,
    PRIMARY KEY (org_id, seq)
) STRICT;

CREATE TABLE provider_audit_entries (
    seq      INTEGER NOT NULL PRIMARY KEY,
    mac      BLOB    NOT NULL,
    body     BLOB    NOT NULL,
    personal BLOB
) STRICT;
