package events

import "embed"

// Schemas holds the JSON Schema (draft 2020-12) of each event, as
// schema/raw_article.v1.json and schema/enriched_article.v1.json. Consumers in
// other languages validate against the same files.
//
//go:embed schema/*.json
var Schemas embed.FS

// Schema file names inside Schemas.
const (
	SchemaRawFile      = "schema/raw_article.v1.json"
	SchemaEnrichedFile = "schema/enriched_article.v1.json"
)
