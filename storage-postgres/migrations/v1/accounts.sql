-- The accounts area (ACC-*, USR-*, AUTH-4): customers, users, API clients.
-- Ids are `uuid`; instants are `bigint` nanoseconds since the epoch; aggregates the store does
-- not query inside are JSON in `bytea` `body` columns.

-- One customer row per organisation: the customer and its settings as one versioned aggregate.
CREATE TABLE customers (
    org_id  uuid   NOT NULL PRIMARY KEY,
    version bigint NOT NULL,
    body    bytea  NOT NULL
);

-- Users. `login_key` is `Email::key()` of the current login e-mail, unique across
-- organisations (a pending e-mail claims no key); `role` is a column for the Owner count.
CREATE TABLE users (
    org_id    uuid   NOT NULL,
    id        uuid   NOT NULL,
    login_key text   NOT NULL,
    role      text   NOT NULL,
    version   bigint NOT NULL,
    body      bytea  NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX users_login_key ON users (login_key);
CREATE INDEX users_by_role ON users (org_id, role);

-- API clients. `client_id` is the id the public client id encodes, unique across
-- organisations; deleting the user deletes its clients (and, through `sessions`, their
-- sessions).
CREATE TABLE api_clients (
    org_id    uuid   NOT NULL,
    id        uuid   NOT NULL,
    client_id uuid   NOT NULL,
    user_id   uuid   NOT NULL,
    version   bigint NOT NULL,
    body      bytea  NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX api_clients_client_id ON api_clients (client_id);
CREATE INDEX api_clients_by_user ON api_clients (org_id, user_id, id);
