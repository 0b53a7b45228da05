-- salesiq-pg schema, version 1. Applied once, in a transaction, by
-- PgStore::connect / PgStore::from_pool; never edited once released:
-- later changes are new files, appended to MIGRATIONS in src/migrate.rs.
--
-- Portal names and usernames are kept lower case by the store; e-mail
-- addresses are kept as given and compared with lower(). Lists are ordered
-- COLLATE "C" (by code point, as SQLite's BINARY), whatever the database's
-- locale. Times are timestamptz (microseconds).

CREATE TABLE portals (
    name TEXT PRIMARY KEY,
    locale TEXT NOT NULL,
    archive_days INTEGER NOT NULL DEFAULT 90
);

CREATE TABLE departments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portal TEXT NOT NULL,
    name TEXT NOT NULL,
    convert_to_ticket BOOLEAN NOT NULL,
    UNIQUE (portal, name)
);

CREATE TABLE operators (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portal TEXT NOT NULL,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    username TEXT,
    password_hash TEXT,
    scram_sha1 TEXT,
    scram_sha256 TEXT,
    photo_type TEXT,
    photo BYTEA
);
CREATE UNIQUE INDEX operators_by_email ON operators (portal, lower(email));
-- Unique across portals: of two racing claims, the second insert of the
-- same key waits for the first and fails (23505).
CREATE UNIQUE INDEX operators_by_username ON operators (lower(username));

CREATE TABLE department_members (
    department BIGINT NOT NULL REFERENCES departments (id),
    operator BIGINT NOT NULL REFERENCES operators (id),
    PRIMARY KEY (department, operator)
);

-- The next visitor number of each portal: numbers never repeat, even for
-- visitors a store forgot.
CREATE TABLE visitor_numbers (
    portal TEXT PRIMARY KEY,
    next BIGINT NOT NULL
);

CREATE TABLE visitors (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portal TEXT NOT NULL,
    number BIGINT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    ip TEXT,
    country TEXT,
    browser TEXT,
    os TEXT,
    first_page TEXT,
    current_page TEXT,
    UNIQUE (portal, number)
);

CREATE TABLE chats (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portal TEXT NOT NULL,
    visitor BIGINT NOT NULL REFERENCES visitors (id),
    department BIGINT REFERENCES departments (id),
    question TEXT NOT NULL,
    state TEXT NOT NULL,
    started TIMESTAMPTZ NOT NULL
);
CREATE INDEX chats_by_visitor ON chats (visitor);
CREATE INDEX chats_unfinished ON chats (id) WHERE state <> 'ended';

CREATE TABLE chat_lines (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat BIGINT NOT NULL REFERENCES chats (id),
    at TIMESTAMPTZ NOT NULL,
    author_kind TEXT NOT NULL,
    author_name TEXT,
    text TEXT NOT NULL
);
CREATE INDEX chat_lines_by_chat ON chat_lines (chat, id);

CREATE TABLE notes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visitor BIGINT NOT NULL REFERENCES visitors (id),
    at TIMESTAMPTZ NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX notes_by_visitor ON notes (visitor, id);

CREATE TABLE blocked_ips (
    portal TEXT NOT NULL,
    ip TEXT NOT NULL,
    reason TEXT NOT NULL,
    blocked_by TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (portal, ip)
);

CREATE TABLE board_posts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portal TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX board_posts_by_portal ON board_posts (portal, id);

CREATE TABLE ticket_links (
    chat BIGINT PRIMARY KEY REFERENCES chats (id),
    ticket_id TEXT NOT NULL
);

CREATE TABLE offline (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portal TEXT NOT NULL,
    username TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    from_kind TEXT NOT NULL,
    from_key TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX offline_by_operator ON offline (portal, username, id);

CREATE TABLE live_chats (
    chat BIGINT PRIMARY KEY REFERENCES chats (id),
    portal TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    operator TEXT,
    guests TEXT[] NOT NULL
);

CREATE TABLE chat_events (
    chat BIGINT NOT NULL REFERENCES chats (id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    PRIMARY KEY (chat, seq)
);

CREATE TABLE archive (
    portal TEXT NOT NULL,
    username TEXT NOT NULL,
    id BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    with_kind TEXT NOT NULL,
    with_key TEXT NOT NULL,
    outgoing BOOLEAN NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (portal, username, id)
);
CREATE INDEX archive_by_contact ON archive (portal, username, with_kind, with_key, id);
CREATE INDEX archive_by_age ON archive (portal, at);
