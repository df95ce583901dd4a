package feed

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/pkg/events"
)

// farmFeed renders an RSS feed of n items whose guids are prefix-0..n-1.
func farmFeed(title, prefix string, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>%s</title><link>https://%s.example/</link><description>farm</description>`, title, prefix)
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&b, `<item><title>%s story %d</title><link>https://%s.example/story/%d</link><guid isPermaLink="false">%s-%d</guid><pubDate>%s</pubDate><description>Story %d of %s.</description></item>`,
			title, i, prefix, i, prefix, i, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour).Format(time.RFC1123Z), i, title)
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

// restartFarm serves nFeeds feeds of nItems items, each answer delayed, and
// returns the feed list YAML and every article id the feeds hold.
func restartFarm(t *testing.T, nFeeds, nItems int, delay time.Duration) (*feedServer, string, map[string]bool) {
	srv := newFeedServer(t)
	var list strings.Builder
	list.WriteString("feeds:\n")
	want := map[string]bool{}
	for i := range nFeeds {
		path := fmt.Sprintf("/f%d.xml", i)
		prefix := fmt.Sprintf("feed%d", i)
		srv.set(path, served{body: farmFeed(fmt.Sprintf("Feed %d", i), prefix, nItems), etag: fmt.Sprintf(`"%d"`, i), delay: delay})
		fmt.Fprintf(&list, "  - url: %s\n", srv.url(path))
		for j := range nItems {
			want[events.ArticleID(srv.url(path), fmt.Sprintf("%s-%d", prefix, j), "", "", time.Time{})] = true
		}
	}
	return srv, list.String(), want
}

func TestRestartMidCycleNeitherRepublishesNorMisses(t *testing.T) {
	_, list, want := restartFarm(t, 30, 10, 150*time.Millisecond)
	cfg := testConfig(t, list)
	cfg.Workers = 4
	cfg.PerHost = 4
	pub := &recPublisher{}

	h := start(t, cfg, pub)
	eventually(t, "part of the first cycle", func() bool { return pub.count() >= 50 })
	h.stop() // mid-cycle: polls in flight are cancelled
	first := pub.count()
	if first >= len(want) {
		t.Fatalf("the first run published everything (%d); the test needs a stop mid-cycle", first)
	}

	h2 := start(t, cfg, pub)
	eventually(t, "the rest", func() bool { return pub.count() >= len(want) })
	time.Sleep(300 * time.Millisecond)
	h2.stop()

	got := map[string]int{}
	for _, a := range pub.got() {
		got[a.ID]++
	}
	for id, n := range got {
		if n > 1 {
			t.Errorf("article %s published %d times", id, n)
		}
		if !want[id] {
			t.Errorf("unexpected article %s", id)
		}
	}
	if len(got) != len(want) {
		t.Errorf("published %d distinct articles, want %d", len(got), len(want))
	}
	t.Logf("first run published %d, second %d", first, pub.count()-first)
}

// The kill -9 test runs the fetcher in a child process (this test binary
// re-executed) whose publisher appends each acknowledged article id to a file
// and syncs it before acknowledging, as a broker would.
const childEnv = "NEWSFLOW_FEED_TEST_CHILD"

func runChild() int {
	cfg := DefaultConfig()
	cfg.FeedsPath = os.Getenv("NF_CHILD_FEEDS")
	cfg.StatePath = os.Getenv("NF_CHILD_STATE")
	cfg.AllowPrivate = true
	cfg.Interval = time.Hour
	cfg.Jitter = 0
	cfg.Workers = 4
	cfg.PerHost = 4
	out, err := os.OpenFile(os.Getenv("NF_CHILD_OUT"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pub := &filePublisher{f: out}
	f, err := New(cfg, pub, discardLogger(), prometheus.NewRegistry())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := f.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type filePublisher struct {
	mu sync.Mutex
	f  *os.File
}

func (p *filePublisher) Publish(ctx context.Context, arts []events.RawArticle) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, a := range arts {
		b.WriteString(a.ID + "\n")
	}
	if _, err := p.f.WriteString(b.String()); err != nil {
		return err
	}
	return p.f.Sync()
}

func readIDs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ids = append(ids, sc.Text())
	}
	return ids
}

func TestKill9RestartLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	_, list, want := restartFarm(t, 40, 10, 100*time.Millisecond)
	dir := t.TempDir()
	feeds := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(feeds, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "published.txt")
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "NF_CHILD_FEEDS="+feeds,
			"NF_CHILD_STATE="+filepath.Join(dir, "state.db"), "NF_CHILD_OUT="+out)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	c1 := child()
	eventually(t, "part of the first cycle", func() bool { return len(readIDs(t, out)) >= 100 })
	if err := c1.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	c1.Wait()
	first := len(readIDs(t, out))
	if first >= len(want) {
		t.Fatalf("the first run published everything (%d) before the kill", first)
	}
	c2 := child()
	eventually(t, "every article", func() bool {
		got := map[string]bool{}
		for _, id := range readIDs(t, out) {
			got[id] = true
		}
		return len(got) >= len(want)
	})
	time.Sleep(300 * time.Millisecond)
	c2.Process.Signal(syscall.SIGTERM)
	if err := c2.Wait(); err != nil {
		t.Errorf("second child did not exit cleanly on SIGTERM: %v", err)
	}
	counts := map[string]int{}
	for _, id := range readIDs(t, out) {
		counts[id]++
	}
	dups := 0
	for id, n := range counts {
		if !want[id] {
			t.Errorf("unexpected id %s", id)
		}
		dups += n - 1
	}
	if len(counts) != len(want) {
		t.Errorf("%d distinct articles published, want %d", len(counts), len(want))
	}
	// A kill between the broker's ack and the state commit republishes that
	// poll's items (at-least-once): at most one poll per worker.
	if dups > 4*10 {
		t.Errorf("%d articles published twice; more than the polls in flight at the kill", dups)
	}
	t.Logf("killed after %d articles; %d republished after restart", first, dups)
}
