-- Full-text search on title (weight A) and text (weight B) with English
-- stemming, and a GIN index on the event document for JSON containment
-- queries (event @> '{"language":"fr"}').
ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', text), 'B')
) STORED;
CREATE INDEX articles_search_idx ON articles USING gin (search);
CREATE INDEX articles_event_idx ON articles USING gin (event jsonb_path_ops);
