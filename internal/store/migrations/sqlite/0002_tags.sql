-- Tag tables: one row per (article, tag), replaced with the article. Each
-- carries the article's article_time so that "articles about X per hour"
-- needs no join.
CREATE TABLE article_countries (
    article_id    TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    code          TEXT NOT NULL, -- ISO 3166-1 alpha-2
    name          TEXT NOT NULL DEFAULT '',
    score         REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    mention_count INTEGER NOT NULL,
    article_time  TEXT NOT NULL,
    PRIMARY KEY (article_id, code)
) WITHOUT ROWID;
CREATE INDEX article_countries_code_time_idx ON article_countries (code, article_time);
CREATE INDEX article_countries_time_idx ON article_countries (article_time);

CREATE TABLE article_people (
    article_id    TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    score         REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    mention_count INTEGER NOT NULL,
    wikidata_id   TEXT NOT NULL DEFAULT '',
    article_time  TEXT NOT NULL,
    PRIMARY KEY (article_id, name)
) WITHOUT ROWID;
CREATE INDEX article_people_name_time_idx ON article_people (name, article_time);
CREATE INDEX article_people_time_idx ON article_people (article_time);

CREATE TABLE article_organizations (
    article_id    TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    score         REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    mention_count INTEGER NOT NULL,
    wikidata_id   TEXT NOT NULL DEFAULT '',
    article_time  TEXT NOT NULL,
    PRIMARY KEY (article_id, name)
) WITHOUT ROWID;
CREATE INDEX article_organizations_name_time_idx ON article_organizations (name, article_time);
CREATE INDEX article_organizations_time_idx ON article_organizations (article_time);

CREATE TABLE article_topics (
    article_id     TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    topic          TEXT NOT NULL, -- taxonomy id, e.g. arms_trade
    label          TEXT NOT NULL DEFAULT '',
    score          REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    evidence_count INTEGER NOT NULL,
    article_time   TEXT NOT NULL,
    PRIMARY KEY (article_id, topic)
) WITHOUT ROWID;
CREATE INDEX article_topics_topic_time_idx ON article_topics (topic, article_time);
CREATE INDEX article_topics_time_idx ON article_topics (article_time);
