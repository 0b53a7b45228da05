-- A visitor's rating of an ended chat (issue 15): 1 to 5, and a comment.
ALTER TABLE chats ADD COLUMN rating SMALLINT;
ALTER TABLE chats ADD COLUMN rating_comment TEXT;
