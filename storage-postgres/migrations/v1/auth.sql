
-- The auth area (AUTH-*): sessions, single-use tokens, TOTP enrolments, throttle counters.
-- Only hashes of tokens are stored.

-- Login sessions. The subject is a user or an API client (exactly one column set); deleting
-- either deletes its sessions. `token_hash` is unique across organisations.
CREATE TABLE sessions (
    org_id               uuid    NOT NULL,
    token_hash           bytea   NOT NULL,
    user_id              uuid,
    api_client_id        uuid,
    channel              text    NOT NULL,
    created_at           bigint  NOT NULL,
    last_seen_at         bigint  NOT NULL,
    second_factor_passed boolean NOT NULL,
    version              bigint  NOT NULL,
    PRIMARY KEY (org_id, token_hash),
    CHECK ((user_id IS NULL) <> (api_client_id IS NULL)),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, api_client_id) REFERENCES api_clients (org_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_by_user ON sessions (org_id, user_id);
CREATE INDEX sessions_by_api_client ON sessions (org_id, api_client_id);
-- The maintenance walk: absolute and idle expiry.
CREATE INDEX sessions_by_created ON sessions (created_at);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at, org_id, token_hash);

-- Reset, confirmation, approval and invitation tokens. `hash` is unique across
-- organisations; a token of a deleted user goes with it. `payload` is JSON.
CREATE TABLE tokens (
    org_id    uuid   NOT NULL,
    hash      bytea  NOT NULL,
    kind      text   NOT NULL,
    issued_at bigint NOT NULL,
    used_at   bigint,
    user_id   uuid,
    payload   bytea  NOT NULL,
    version   bigint NOT NULL,
    PRIMARY KEY (org_id, hash),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX tokens_hash ON tokens (hash);
CREATE INDEX tokens_by_kind_issued ON tokens (kind, issued_at);
CREATE INDEX tokens_by_user ON tokens (org_id, user_id);

-- One TOTP enrolment per user (sealed secret, last step, recovery codes) as JSON.
CREATE TABLE totp (
    org_id  uuid   NOT NULL,
    user_id uuid   NOT NULL,
    version bigint NOT NULL,
    body    bytea  NOT NULL,
    PRIMARY KEY (org_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);

-- Login-throttling failure counters: provider scope (keyed by `ThrottleKey::storage_key`, no
-- organisation), so no row-level policy.
CREATE TABLE throttle_counters (
    key             text   NOT NULL PRIMARY KEY,
    failures        bigint NOT NULL,
    last_failure_at bigint NOT NULL,
    version         bigint NOT NULL
);
CREATE INDEX throttle_counters_by_last_failure ON throttle_counters (last_failure_at);
