package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	readability "codeberg.org/readeck/go-readability/v2"
	"golang.org/x/net/html/charset"

	"github.com/newsflow/newsflow/pkg/events"
)

// fullText fetches article pages and extracts their main text, under the
// fetcher's HTTP limits and guard, its own concurrency limit, and the
// per-host limit.
type fullText struct {
	cfg  Config
	http *client
	m    *metrics
	sem  chan struct{}

	mu    sync.Mutex
	hosts map[string]chan struct{}
}

func newFullText(cfg Config, c *client, m *metrics) *fullText {
	return &fullText{cfg: cfg, http: c, m: m, sem: make(chan struct{}, cfg.FullTextWorkers), hosts: make(map[string]chan struct{})}
}

// hostSlot returns the semaphore of host (created on first use).
func (t *fullText) hostSlot(host string) chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.hosts[host]
	if s == nil {
		s = make(chan struct{}, t.cfg.PerHost)
		t.hosts[host] = s
	}
	return s
}

// fill replaces each article's Content with the text extracted from its
// page; the feed's own text moves to Summary when Summary is empty. An
// article whose page cannot be fetched or extracted keeps the feed's text.
func (t *fullText) fill(ctx context.Context, arts []events.RawArticle, headers map[string]string) {
	var wg sync.WaitGroup
	for i := range arts {
		a := &arts[i]
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			t.m.fullText.WithLabelValues("skipped").Inc()
			continue
		}
		select {
		case t.sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-t.sem }()
			hs := t.hostSlot(strings.ToLower(u.Hostname()))
			select {
			case hs <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-hs }()
			text, err := t.extract(ctx, u, headers)
			if err != nil {
				var fe *FetchError
				result := "extract_failed"
				if errors.As(err, &fe) {
					result = string(fe.Class)
				}
				t.m.fullText.WithLabelValues(result).Inc()
				return
			}
			t.m.fullText.WithLabelValues(string(ClassOK)).Inc()
			if a.Summary == "" {
				a.Summary = a.Content
			}
			a.Content = text
		})
	}
	wg.Wait()
}

// extract fetches u and returns its main text.
func (t *fullText) extract(ctx context.Context, u *url.URL, headers map[string]string) (string, error) {
	resp, err := t.http.get(ctx, request{URL: u.String(), Headers: headers, Accept: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"})
	if err != nil {
		return "", err
	}
	defer resp.release()
	if resp.NotModified() {
		return "", errors.New("unexpected 304")
	}
	t.m.response(resp.Status)
	t.m.bytes.Add(float64(resp.WireBytes))
	r, err := charset.NewReader(bytes.NewReader(resp.Body), resp.Header.Get("Content-Type"))
	if err != nil {
		return "", fmt.Errorf("decode %s: %w", u, err)
	}
	final, err := url.Parse(resp.FinalURL)
	if err != nil {
		final = u
	}
	art, err := readability.FromReader(r, final)
	if err != nil {
		return "", fmt.Errorf("extract %s: %w", u, err)
	}
	if art.Node == nil {
		return "", fmt.Errorf("extract %s: no article content", u)
	}
	var b strings.Builder
	if err := art.RenderText(&b); err != nil {
		return "", fmt.Errorf("extract %s: %w", u, err)
	}
	text := strings.TrimSpace(b.String())
	if text == "" {
		return "", fmt.Errorf("extract %s: empty text", u)
	}
	return text, nil
}
