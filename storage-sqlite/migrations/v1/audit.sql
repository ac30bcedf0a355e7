-- The audit log (AUD-1): one HMAC chain per organisation and the provider's own chain.
--
-- `body` is the entry as JSON with its personal values in their erased form (only their
-- hash); the personal values themselves are the `personal` column, set to NULL when they are
-- erased. So erasure touches one column, and no erased value lingers in the body.

CREATE TABLE audit_entries (
    org_id   BLOB    NOT NULL,
    seq      INTEGER NOT NULL,
    mac      BLOB    NOT NULL,
    body     BLOB    NOT NULL,
    personal BLOB,
    PRIMARY KEY (org_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE provider_audit_entries (
    seq      INTEGER NOT NULL PRIMARY KEY,
    mac      BLOB    NOT NULL,
    body     BLOB    NOT NULL,
    personal BLOB
) STRICT;
