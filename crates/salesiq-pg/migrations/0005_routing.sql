-- Capacity and routing (issue 15): how many chats an operator takes at
-- once (the portal's default, and an operator's own, NULL for the
-- default), and how each department's requests are offered.
ALTER TABLE portals ADD COLUMN max_chats INTEGER NOT NULL DEFAULT 5;
ALTER TABLE operators ADD COLUMN max_chats INTEGER;
ALTER TABLE departments ADD COLUMN routing TEXT NOT NULL DEFAULT 'broadcast';
ALTER TABLE departments ADD COLUMN offer_timeout INTEGER NOT NULL DEFAULT 30;
