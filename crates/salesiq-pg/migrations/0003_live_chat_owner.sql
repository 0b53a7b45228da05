-- The node that runs a live chat, when several share the database
-- (salesiq_session::LiveChat::owner); NULL for a single-node gateway and
-- for rows saved before. It moves only by Store::claim_live_chat.
ALTER TABLE live_chats ADD COLUMN owner TEXT;
-- Store::live_chat finds a chat by its visitor's resume-token hash.
CREATE INDEX live_chats_by_token ON live_chats (token_hash);
