package enrich

import (
	"bytes"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/newsflow/newsflow/pkg/events"
)

// TestThroughput measures the whole offline path (decode JSON, clean HTML,
// tag every entity kind, encode JSON) on the Reuters dev set when it is
// present, and reports MB/s and articles/s of CPU time, allocations per
// article and the peak RSS. It asserts nothing about speed (see
// docs/benchmarks.md); it only checks every output validates. Run with
//
//	go test -run TestThroughput -v ./internal/enrich/
func TestThroughput(t *testing.T) {
	data, err := os.ReadFile(reutersDev)
	if err != nil {
		t.Skipf("Reuters dev set not present: %v", err)
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	tg := newTestTagger(t)
	var lines [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	textBytes := 0
	var before, after runtime.MemStats
	var best, bestWall time.Duration
	var out int
	var buf []byte
	const passes = 3
	for pass := 0; pass < passes; pass++ {
		runtime.GC()
		if pass == 0 {
			runtime.ReadMemStats(&before)
		}
		cpu0 := cpuTime()
		wall0 := time.Now()
		out = 0
		for _, l := range lines {
			var raw events.RawArticle
			if err := gojson.Unmarshal(l, &raw); err != nil {
				t.Fatal(err)
			}
			if pass == 0 {
				textBytes += len(raw.Title) + len(raw.Content) + len(raw.Summary)
			}
			raw.SchemaVersion = events.SchemaVersion
			raw.FetchedAt = testNow
			a := tg.Enrich(raw, testNow)
			buf, err = AppendJSON(buf[:0], &a)
			if err != nil {
				t.Fatal(err)
			}
			out += len(buf)
			if pass == 0 {
				if err := a.Validate(); err != nil {
					t.Fatal(err)
				}
			}
		}
		cpu := cpuTime() - cpu0
		if pass == 0 {
			runtime.ReadMemStats(&after)
		}
		if best == 0 || cpu < best {
			best, bestWall = cpu, time.Since(wall0)
		}
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	n := float64(len(lines))
	mb := float64(len(data)) / 1e6
	text := float64(textBytes) / 1e6
	t.Logf("articles %d, input %.1f MB of JSON lines holding %.1f MB of article text, output %.1f MB", len(lines), mb, text, float64(out)/1e6)
	t.Logf("best of %d passes, CPU time %.2fs: %.1f MB/s of article text (%.1f MB/s of JSON input), %.0f articles/s (wall %.2fs)",
		passes, best.Seconds(), text/best.Seconds(), mb/best.Seconds(), n/best.Seconds(), bestWall.Seconds())
	t.Logf("allocations %.1f per article, %.0f bytes per article", float64(after.Mallocs-before.Mallocs)/n, float64(after.TotalAlloc-before.TotalAlloc)/n)
	t.Logf("peak RSS of the test process %.1f MB (includes the %.1f MB input held in memory)", float64(ru.Maxrss)/1024, mb)
}

// cpuTime returns the user+system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
