-- Opening hours (issue 15): when a department takes chats, in its time
-- zone; and the messages visitors leave while nobody answers, with the
-- chat requests nobody accepted (kind 'missed').
ALTER TABLE departments ADD COLUMN hours TEXT;
ALTER TABLE departments ADD COLUMN timezone TEXT;
CREATE TABLE left_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portal TEXT NOT NULL,
    department BIGINT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    text TEXT NOT NULL,
    chat BIGINT,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX left_messages_by_portal ON left_messages (portal, id);
