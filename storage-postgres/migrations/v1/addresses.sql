
-- The address book (ADDR-*): one versioned aggregate per organisation.
CREATE TABLE address_books (
    org_id  uuid   NOT NULL PRIMARY KEY,
    version bigint NOT NULL,
    body    bytea  NOT NULL
);
