-- Portal::notify (issue 15): the e-mail addresses told of messages left
-- and missed chats, in order; none by default.
ALTER TABLE portals ADD COLUMN notify TEXT[] NOT NULL DEFAULT '{}';
