-- The address book (ADDR-*): one versioned aggregate per organisation.
CREATE TABLE address_books (
    org_id  BLOB    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    body    BLOB    NOT NULL
) STRICT;
