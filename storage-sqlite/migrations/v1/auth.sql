-- The auth area (AUTH-*): sessions, single-use tokens, TOTP enrolments, throttle counters.
-- Only hashes of tokens are stored. Instants are INTEGER nanoseconds since the epoch.

-- Login sessions. The subject is a user or an API client (exactly one column set); deleting
-- either deletes its sessions. `token_hash` is unique across organisations.
CREATE TABLE sessions (
    org_id               BLOB    NOT NULL,
    token_hash           BLOB    NOT NULL,
    user_id              BLOB,
    api_client_id        BLOB,
    channel              TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    last_seen_at         INTEGER NOT NULL,
    second_factor_passed INTEGER NOT NULL,
    version              INTEGER NOT NULL,
    PRIMARY KEY (org_id, token_hash),
    CHECK ((user_id IS NULL) <> (api_client_id IS NULL)),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, api_client_id) REFERENCES api_clients (org_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_by_user ON sessions (org_id, user_id);
CREATE INDEX sessions_by_api_client ON sessions (org_id, api_client_id);
-- The maintenance walk: absolute and idle expiry.
CREATE INDEX sessions_by_created ON sessions (created_at);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);

-- Reset, confirmation, approval and invitation tokens. `hash` is unique across
-- organisations; a token of a deleted user goes with it. `payload` is JSON.
CREATE TABLE tokens (
    org_id    BLOB    NOT NULL,
    hash      BLOB    NOT NULL,
    kind      TEXT    NOT NULL,
    issued_at INTEGER NOT NULL,
    used_at   INTEGER,
    user_id   BLOB,
    payload   BLOB    NOT NULL,
    version   INTEGER NOT NULL,
    PRIMARY KEY (org_id, hash),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX tokens_hash ON tokens (hash);
CREATE INDEX tokens_by_kind_issued ON tokens (kind, issued_at);
CREATE INDEX tokens_by_user ON tokens (org_id, user_id);

-- One TOTP enrolment per user (sealed secret, last step, recovery codes) as JSON.
CREATE TABLE totp (
    org_id  BLOB    NOT NULL,
    user_id BLOB    NOT NULL,
    version INTEGER NOT NULL,
    body    BLOB    NOT NULL,
    PRIMARY KEY (org_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
) STRICT;

-- Login-throttling failure counters: provider scope, keyed by `ThrottleKey::storage_key`.
CREATE TABLE throttle_counters (
    key             TEXT    NOT NULL PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    version         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX throttle_counters_by_last_failure ON throttle_counters (last_failure_at);
