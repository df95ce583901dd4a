//go:build linux

package topics_test

import (
	"bufio"
	"encoding/json"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/newsflow/newsflow/internal/enrich"
	"github.com/newsflow/newsflow/internal/enrich/topics"
	"github.com/newsflow/newsflow/pkg/events"
)

// This file is an external test package: it may import internal/enrich,
// which package topics itself must not (enrich's callers import topics).

// overheadCorpora are read at benchmark time: the Reuters dev corpus of the
// evaluation folder when present (for measuring only, never copied), and
// newsflow's own topic dev set.
var overheadCorpora = []struct{ name, path string }{
	{"reuters", "/work/shared/eval/dev/reuters/articles.jsonl"},
	{"topicsdev", "../../../testdata/topics/dev/articles.jsonl"},
}

// BenchmarkTopicOverhead measures what topic matching adds to the entity
// tagger, on the same articles: each iteration tags one article with the
// entity tagger alone, then with the entity tagger and the default topic
// matcher, and measures both in CPU time of the benchmark's thread (not wall
// time), so that other load on a shared machine does not distort the ratio.
// Metrics: CPU ns/article of each and topics_overhead_% = (with - without) /
// without. The budget is 25% (docs/benchmarks.md).
func BenchmarkTopicOverhead(b *testing.B) {
	m, err := topics.Default().Matcher(-1)
	if err != nil {
		b.Fatal(err)
	}
	plain, err := enrich.New(enrich.Options{})
	if err != nil {
		b.Fatal(err)
	}
	withTopics, err := enrich.New(enrich.Options{Topics: m})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range overheadCorpora {
		b.Run(c.name, func(b *testing.B) {
			raws := readRaws(b, c.path)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var without, with time.Duration
			i := 0
			for b.Loop() {
				raw := raws[i%len(raws)]
				t0 := threadCPU(b)
				plain.Enrich(raw, now)
				t1 := threadCPU(b)
				withTopics.Enrich(raw, now)
				t2 := threadCPU(b)
				without += t1 - t0
				with += t2 - t1
				i++
			}
			b.ReportMetric(float64(without.Nanoseconds())/float64(i), "cpu-ns/article-entities")
			b.ReportMetric(float64(with.Nanoseconds())/float64(i), "cpu-ns/article-entities+topics")
			b.ReportMetric(100*float64(with-without)/float64(without), "topics_overhead_%")
		})
	}
}

// threadCPU returns the CPU time consumed by the calling OS thread.
func threadCPU(b *testing.B) time.Duration {
	const clockThreadCPUTimeID = 3 // CLOCK_THREAD_CPUTIME_ID
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		b.Fatal("clock_gettime:", errno)
	}
	return time.Duration(ts.Nano())
}

func readRaws(b *testing.B, path string) []events.RawArticle {
	f, err := os.Open(path)
	if err != nil {
		b.Skip("corpus not present:", err)
	}
	defer f.Close()
	var raws []events.RawArticle
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var raw events.RawArticle
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			b.Fatal(err)
		}
		raws = append(raws, raw)
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return raws
}
