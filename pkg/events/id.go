package events

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
	"time"
)

// ArticleID returns the stable id of a feed item: 32 hex digits of a SHA-256
// over the feed URL and the item's identity. The identity is the GUID when
// there is one; else the link, normalised (lower-case scheme and host, no
// fragment, tracking parameters such as utm_* removed, remaining query
// parameters sorted); else the title and publication date. The same item in the
// same feed always gets the same id.
func ArticleID(feedURL, guid, link, title string, published time.Time) string {
	var identity string
	switch {
	case strings.TrimSpace(guid) != "":
		identity = "guid\x00" + strings.TrimSpace(guid)
	case strings.TrimSpace(link) != "":
		identity = "link\x00" + NormalizeLink(link)
	default:
		identity = "title\x00" + strings.TrimSpace(title) + "\x00" + published.UTC().Format(time.RFC3339)
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(feedURL) + "\x00" + identity))
	return hex.EncodeToString(h[:16])
}

// trackingParams are query parameters that identify a campaign, not a page.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "msclkid": true, "mc_cid": true, "mc_eid": true,
	"igshid": true, "yclid": true, "_hsenc": true, "_hsmi": true, "ref_src": true, "cmpid": true,
	"ito": true, "at_medium": true, "at_campaign": true, "ocid": true, "smid": true,
}

// NormalizeLink returns link with a lower-case scheme and host, without
// fragment and tracking parameters (utm_* and common click ids), and with the
// remaining query parameters sorted. A link that does not parse is returned
// trimmed.
func NormalizeLink(link string) string {
	link = strings.TrimSpace(link)
	u, err := url.Parse(link)
	if err != nil || u.Host == "" {
		return link
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	u.Fragment = ""
	u.RawFragment = ""
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "utm_") || trackingParams[lk] {
			q.Del(k)
		}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		for j, v := range q[k] {
			if i > 0 || j > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	u.RawQuery = b.String()
	return u.String()
}
