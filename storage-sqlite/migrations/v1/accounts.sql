-- The accounts area (ACC-*, USR-*, AUTH-4): customers, users, API clients.
-- Later areas may reference `customers (org_id)` and `users (org_id, id)` by foreign key.

-- One customer row per organisation: the customer and its settings as one versioned aggregate.
CREATE TABLE customers (
    org_id  BLOB    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    body    BLOB    NOT NULL
) STRICT;

-- Users. `login_key` is `Email::key()` of the current login e-mail, unique across
-- organisations (a pending e-mail claims no key); `role` is a column for the Owner count.
CREATE TABLE users (
    org_id    BLOB    NOT NULL,
    id        BLOB    NOT NULL,
    login_key TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    body      BLOB    NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;
CREATE UNIQUE INDEX users_login_key ON users (login_key);
CREATE INDEX users_by_role ON users (org_id, role);

-- API clients. `client_id` is the id the public client id encodes, unique across
-- organisations; deleting the user deletes its clients (and, through `sessions`, their
-- sessions).
CREATE TABLE api_clients (
    org_id    BLOB    NOT NULL,
    id        BLOB    NOT NULL,
    client_id BLOB    NOT NULL,
    user_id   BLOB    NOT NULL,
    version   INTEGER NOT NULL,
    body      BLOB    NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE UNIQUE INDEX api_clients_client_id ON api_clients (client_id);
CREATE INDEX api_clients_by_user ON api_clients (org_id, user_id, id);
