-- Canned answers (`#c <key>`, salesiq_session::CannedAnswer): per portal,
-- portal-wide (department NULL) or one department's. Portal and key are
-- kept lower case by the store.
CREATE TABLE canned (
    portal TEXT NOT NULL,
    department BIGINT,
    key TEXT NOT NULL,
    text TEXT NOT NULL
);
-- One answer per portal, department and key. NULLs are distinct in a
-- unique index (NULLS NOT DISTINCT needs PostgreSQL 15), so a portal-wide
-- answer is keyed as department 0, which no identity value is.
CREATE UNIQUE INDEX canned_by_key ON canned (portal, (COALESCE(department, 0)), key);
