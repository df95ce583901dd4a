package events

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Header is one Kafka record header. It mirrors the header types of Kafka
// clients so that this package needs none of them.
type Header struct {
	Key   string
	Value []byte
}

// CloudEvents Kafka binary-mode header names used on every newsflow message.
const (
	HeaderSpecVersion = "ce_specversion"
	HeaderID          = "ce_id"
	HeaderType        = "ce_type"
	HeaderSource      = "ce_source"
	HeaderTime        = "ce_time"
	HeaderSubject     = "ce_subject"
	HeaderContentType = "content-type"
)

// RawHeaders returns the CloudEvents binary-mode headers for a raw article:
// type TypeRaw, source the feed URL, subject the article id, time the fetch
// time, and an id that is the same for the same version of the same item.
func RawHeaders(a RawArticle) []Header {
	return ceHeaders(TypeRaw, a.Source.FeedURL, a.ID, eventID(a.ID, a.UpdatedAt, a.Title, a.Content), a.FetchedAt)
}

// EnrichedHeaders returns the CloudEvents binary-mode headers for an enriched
// article: type TypeEnriched, source "newsflow/enricher", subject the article
// id, time the enrichment time.
func EnrichedHeaders(a EnrichedArticle) []Header {
	return ceHeaders(TypeEnriched, "newsflow/enricher", a.ID, eventID(a.ID, a.UpdatedAt, a.EnricherVersion, a.Text), a.EnrichedAt)
}

func ceHeaders(typ, source, subject, id string, t time.Time) []Header {
	if t.IsZero() {
		t = time.Now()
	}
	return []Header{
		{Key: HeaderSpecVersion, Value: []byte("1.0")},
		{Key: HeaderID, Value: []byte(id)},
		{Key: HeaderType, Value: []byte(typ)},
		{Key: HeaderSource, Value: []byte(source)},
		{Key: HeaderSubject, Value: []byte(subject)},
		{Key: HeaderTime, Value: []byte(t.UTC().Format(time.RFC3339Nano))},
		{Key: HeaderContentType, Value: []byte("application/json")},
	}
}

func eventID(id string, updated time.Time, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(updated.UTC().Format(time.RFC3339Nano)))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return id + "-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// HeaderValue returns the value of the first header named key, or "".
func HeaderValue(hs []Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
