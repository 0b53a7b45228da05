-- Numbers a live chat may have shown its visitor: a restore after a
-- crash numbers on from here (salesiq_session::LiveChat::seq_reserved).
ALTER TABLE live_chats ADD COLUMN seq_reserved BIGINT NOT NULL DEFAULT 0;
