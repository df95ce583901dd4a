-- Tag tables: one row per (article, tag), replaced with the article and
-- deleted with it (by the store, in the same transaction: a foreign key's
-- per-row check cost about an eighth of the write throughput, and the store is
-- the only writer). Each carries the article's article_time so that "articles
-- about X per hour" needs no join. Rows arrive roughly in time order, so a
-- BRIN index serves time ranges over a whole table at almost no write cost.
CREATE TABLE article_countries (
    article_id    text NOT NULL,
    code          text NOT NULL, -- ISO 3166-1 alpha-2
    name          text NOT NULL DEFAULT '',
    score         double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
    mention_count integer NOT NULL,
    article_time  timestamptz NOT NULL,
    PRIMARY KEY (article_id, code)
);
CREATE INDEX article_countries_code_time_idx ON article_countries (code, article_time);
CREATE INDEX article_countries_time_idx ON article_countries USING brin (article_time);

CREATE TABLE article_people (
    article_id    text NOT NULL,
    name          text NOT NULL,
    score         double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
    mention_count integer NOT NULL,
    wikidata_id   text NOT NULL DEFAULT '',
    article_time  timestamptz NOT NULL,
    PRIMARY KEY (article_id, name)
);
CREATE INDEX article_people_name_time_idx ON article_people (name, article_time);
CREATE INDEX article_people_time_idx ON article_people USING brin (article_time);

CREATE TABLE article_organizations (
    article_id    text NOT NULL,
    name          text NOT NULL,
    score         double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
    mention_count integer NOT NULL,
    wikidata_id   text NOT NULL DEFAULT '',
    article_time  timestamptz NOT NULL,
    PRIMARY KEY (article_id, name)
);
CREATE INDEX article_organizations_name_time_idx ON article_organizations (name, article_time);
CREATE INDEX article_organizations_time_idx ON article_organizations USING brin (article_time);

CREATE TABLE article_topics (
    article_id     text NOT NULL,
    topic          text NOT NULL, -- taxonomy id, e.g. arms_trade
    label          text NOT NULL DEFAULT '',
    score          double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
    evidence_count integer NOT NULL,
    article_time   timestamptz NOT NULL,
    PRIMARY KEY (article_id, topic)
);
CREATE INDEX article_topics_topic_time_idx ON article_topics (topic, article_time);
CREATE INDEX article_topics_time_idx ON article_topics USING brin (article_time);
