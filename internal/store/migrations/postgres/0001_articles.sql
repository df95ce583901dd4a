-- One row per article id: the newest version seen. article_time is
-- published_at, or fetched_at when published_at is missing or in the future:
-- the time dashboards bucket articles by, and the time retention deletes by.
CREATE TABLE articles (
    id               text PRIMARY KEY,
    url              text NOT NULL DEFAULT '',
    title            text NOT NULL DEFAULT '',
    feed_url         text NOT NULL,
    feed_title       text NOT NULL DEFAULT '',
    language         text NOT NULL DEFAULT '',
    published_at     timestamptz,
    updated_at       timestamptz,
    fetched_at       timestamptz NOT NULL,
    enriched_at      timestamptz,
    article_time     timestamptz NOT NULL,
    enricher_version text NOT NULL DEFAULT '',
    text             text NOT NULL DEFAULT '',
    event            jsonb NOT NULL, -- the full enriched event
    stored_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX articles_time_idx ON articles (article_time);
CREATE INDEX articles_feed_time_idx ON articles (feed_url, article_time);
-- Long text and the event are TOASTed: lz4 compresses them several times
-- faster than the default pglz, where the server supports it.
DO $$
BEGIN
    ALTER TABLE articles ALTER COLUMN text SET COMPRESSION lz4, ALTER COLUMN event SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 not supported by this server: article text and events use pglz compression';
END
$$;
