-- Full-text search on title and text: an FTS5 index over articles, kept in
-- step by triggers, rebuilt here for rows stored before this version.
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, text, content = 'articles', content_rowid = 'seq', tokenize = 'porter unicode61'
);
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.seq, new.title, new.text);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text) VALUES ('delete', old.seq, old.title, old.text);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text) VALUES ('delete', old.seq, old.title, old.text);
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.seq, new.title, new.text);
END;
INSERT INTO articles_fts (articles_fts) VALUES ('rebuild');
