-- One row per article id: the newest version seen. Times are TEXT in the fixed
-- UTC form 2006-01-02T15:04:05.000000Z (text order is time order).
-- article_time is published_at, or fetched_at when published_at is missing or
-- in the future: the time dashboards bucket articles by.
CREATE TABLE articles (
    seq              INTEGER PRIMARY KEY, -- stable rowid for the full-text index
    id               TEXT NOT NULL UNIQUE,
    url              TEXT NOT NULL DEFAULT '',
    title            TEXT NOT NULL DEFAULT '',
    feed_url         TEXT NOT NULL,
    feed_title       TEXT NOT NULL DEFAULT '',
    language         TEXT NOT NULL DEFAULT '',
    published_at     TEXT,
    updated_at       TEXT,
    fetched_at       TEXT NOT NULL,
    enriched_at      TEXT,
    article_time     TEXT NOT NULL,
    enricher_version TEXT NOT NULL DEFAULT '',
    text             TEXT NOT NULL DEFAULT '',
    event            TEXT NOT NULL CHECK (json_valid(event)), -- the full enriched event
    stored_at        TEXT NOT NULL
);
CREATE INDEX articles_time_idx ON articles (article_time);
CREATE INDEX articles_feed_time_idx ON articles (feed_url, article_time);
