package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Fixed metrics addresses that deploy/prometheus/prometheus-test.yml scrapes.
const (
	promFetcherAddr  = "127.0.0.1:19101"
	promEnricherAddr = "127.0.0.1:19102"
	promSinkAddr     = "127.0.0.1:19103"
)

// Timeouts of the process harness.
const (
	readyTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// runID returns a short random suffix that makes topic, group and database
// names unique to one test run, so that reruns against a long-lived broker
// never see an earlier run's records or committed offsets.
func runID(t *testing.T) string {
	t.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random run id: %v", err)
	}
	return hex.EncodeToString(b[:])
}

// stages is one deployment of the three services: their configuration and,
// while they run, their processes.
type stages struct {
	t       *testing.T
	broker  string // bootstrap address
	store   string // --store of the sink
	feeds   string // feed list file
	state   string // fetcher state file
	raw     string // topics
	enr     string
	dlq     string
	group   string // consumer group prefix
	addrs   [3]string
	running [3]*proc // fetcher, enricher, sink
}

// newStages configures the stages of one test run against broker and store.
// With fixedPorts the metrics servers listen where Prometheus scrapes them;
// otherwise on free loopback ports.
func newStages(t *testing.T, broker, store, feedList string, fixedPorts bool) *stages {
	t.Helper()
	id := runID(t)
	s := &stages{
		t:      t,
		broker: broker,
		store:  store,
		feeds:  feedList,
		state:  filepath.Join(t.TempDir(), "fetcher-state.db"),
		raw:    "it." + id + ".articles.raw",
		enr:    "it." + id + ".articles.enriched",
		dlq:    "it." + id + ".articles.dlq",
		group:  "it-" + id,
	}
	t.Cleanup(func() { deleteTopics(t, broker, s.raw, s.enr, s.dlq) })
	if fixedPorts {
		s.addrs = [3]string{promFetcherAddr, promEnricherAddr, promSinkAddr}
	} else {
		s.addrs = [3]string{freeAddr(t), freeAddr(t), freeAddr(t)}
	}
	return s
}

func (s *stages) fetcher() *proc  { return s.running[0] }
func (s *stages) enricher() *proc { return s.running[1] }
func (s *stages) sink() *proc     { return s.running[2] }

func (s *stages) topicFlags() []string {
	return []string{"--brokers", s.broker, "--topic-raw", s.raw, "--topic-enriched", s.enr, "--topic-dlq", s.dlq}
}

// start starts sink, enricher and fetcher (downstream first, as an operator
// would) and waits until each answers /readyz.
func (s *stages) start() {
	s.t.Helper()
	start := time.Now()
	sink := startProc(s.t, "sink", bin.sink, s.addrs[2], nil, append(s.topicFlags(),
		"--store", s.store, "--group", s.group+"-sink", "--metrics-addr", s.addrs[2],
		"--batch-wait", "100ms")...)
	enricher := startProc(s.t, "enricher", bin.enricher, s.addrs[1], nil, append(s.topicFlags(),
		"--group", s.group+"-enricher", "--metrics-addr", s.addrs[1])...)
	// The feed list, state and interval come from NEWSFLOW_* variables here,
	// the documented environment defaults of every flag.
	fetcher := startProc(s.t, "fetcher", bin.fetcher, s.addrs[0],
		[]string{"NEWSFLOW_FEEDS=" + s.feeds, "NEWSFLOW_STATE=" + s.state, "NEWSFLOW_INTERVAL=2s"},
		append(s.topicFlags(), "--allow-private", "--metrics-addr", s.addrs[0])...)
	s.running = [3]*proc{fetcher, enricher, sink}
	for _, p := range []*proc{sink, enricher, fetcher} {
		p.waitReady(readyTimeout)
	}
	s.t.Logf("fetcher, enricher and sink ready in %v", time.Since(start).Round(time.Millisecond))
}

// stop sends SIGTERM to fetcher, enricher and sink (upstream first) and
// asserts that each exits 0.
func (s *stages) stop() {
	s.t.Helper()
	for _, p := range s.running {
		p.stop(stopTimeout)
	}
	s.running = [3]*proc{}
}

// deleteTopics deletes a test's topics, so that a long-lived broker does
// not collect them; failures are only logged.
func deleteTopics(t *testing.T, broker string, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 10 * time.Second}
	resp, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	if err != nil {
		t.Logf("delete topics %v: %v", topics, err)
		return
	}
	for topic, err := range resp.Errors {
		if err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	}
}
