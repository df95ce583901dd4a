package topics

import (
	"bufio"
	"encoding/json"
	"os"
	"runtime"
	"testing"
)

// reutersDev is the Reuters-21578 dev corpus of the evaluation folder. It is
// read at benchmark time when present, for measuring only (never copied), so
// that topic matching is timed on the same articles as the entity tagger's
// BenchmarkStages in ../bench_test.go.
const reutersDev = "/work/shared/eval/dev/reuters/articles.jsonl"

// BenchmarkMatch measures topic matching alone, per article, on the seed
// article and on the whole dev set (one op = every dev article once).
// docs/benchmarks.md reports the figures next to the entity tagger's.
func BenchmarkMatch(b *testing.B) {
	m, err := Default().Matcher(-1)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("seed", func(b *testing.B) {
		text, body := loadSeed(b)
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		defer cpuTime(b, 1, int64(len(text)))()
		for b.Loop() {
			m.Match(text, body)
		}
	})
	b.Run("dev", func(b *testing.B) {
		items := loadSet(b, "../../../testdata/topics/dev")
		var n int64
		for _, it := range items {
			n += int64(len(it.text))
		}
		b.SetBytes(n)
		b.ReportAllocs()
		defer cpuTime(b, len(items), n)()
		for b.Loop() {
			for _, it := range items {
				m.Match(it.text, it.bodyStart)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/article")
	})
	b.Run("reuters", func(b *testing.B) {
		f, err := os.Open(reutersDev)
		if err != nil {
			b.Skip("Reuters dev set not present:", err)
		}
		defer f.Close()
		var texts []string
		var bodies []int
		var n int64
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var a struct{ Title, Content string }
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				b.Fatal(err)
			}
			texts = append(texts, a.Title+"\n\n"+a.Content)
			bodies = append(bodies, len(a.Title)+2)
			n += int64(len(texts[len(texts)-1]))
		}
		b.SetBytes(n / int64(len(texts)))
		b.ReportAllocs()
		defer cpuTime(b, 1, n/int64(len(texts)))()
		i := 0
		for b.Loop() {
			m.Match(texts[i%len(texts)], bodies[i%len(texts)])
			i++
		}
	})
}

// cpuTime locks the benchmark to its thread and returns a function that
// reports the thread's CPU time per article (cpu-ns/article) and the
// matching throughput (cpu-MB/s). perOp is the number of articles and
// bytesPerOp their total size in one op.
func cpuTime(b *testing.B, perOp int, bytesPerOp int64) func() {
	runtime.LockOSThread()
	start, ok := threadCPU()
	return func() {
		end, ok2 := threadCPU()
		runtime.UnlockOSThread()
		if !ok || !ok2 || b.N == 0 {
			return
		}
		d := float64((end - start).Nanoseconds())
		b.ReportMetric(d/float64(b.N*perOp), "cpu-ns/article")
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/d*1e3, "cpu-MB/s")
	}
}

// BenchmarkCompile measures building a Matcher from the default taxonomy
// (done once at start).
func BenchmarkCompile(b *testing.B) {
	for b.Loop() {
		if _, err := Default().Matcher(-1); err != nil {
			b.Fatal(err)
		}
	}
}
