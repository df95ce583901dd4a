package bus_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/internal/bus"
)

// TestMain doubles as a helper process: with NEWSFLOW_BUS_HELPER=DIR it runs
// an embedded broker on DIR, prints its address and blocks until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("NEWSFLOW_BUS_HELPER"); dir != "" {
		e, err := bus.StartEmbedded(bus.EmbeddedOptions{DataDir: dir, Partitions: 2})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("ADDR", e.Addrs()[0])
		select {}
	}
	os.Exit(m.Run())
}

func startBrokerProcess(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NEWSFLOW_BUS_HELPER="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		t.Fatalf("broker process: %q %v", line, err)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
}

// TestEmbeddedSurvivesSIGKILL checks the promise newsflow run relies on: an
// embedded broker with a data directory, killed with SIGKILL, keeps every
// acknowledged message and every committed offset.
func TestEmbeddedSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd, addr := startBrokerProcess(t, dir)
	c := bus.DefaultConfig()
	c.Brokers = []string{addr}
	c.Partitions = 2
	if err := bus.EnsureTopics(ctx, c); err != nil {
		t.Fatal(err)
	}
	w, err := c.NewWriter(c.Topics.Raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := w.Write(ctx, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	// Consume and commit the first 8 messages in a group.
	cons, err := c.NewConsumer(bus.ConsumerConfig{GroupID: "g", Topic: c.Topics.Raw, BatchSize: 8, BatchWait: 300 * time.Millisecond}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	committed := 0
	cctx, ccancel := context.WithCancel(ctx)
	if err := cons.Run(cctx, func(_ context.Context, b []kafka.Message) error {
		committed += len(b)
		if committed >= 8 {
			ccancel()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ccancel()
	cl, _ := c.Client()
	lagBefore, err := bus.GroupLag(ctx, cl, "g", c.Topics.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if lagBefore != int64(20-committed) {
		t.Fatalf("lag before kill = %d, want %d", lagBefore, 20-committed)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()

	_, addr2 := startBrokerProcess(t, dir)
	c.Brokers = []string{addr2}
	cl, _ = c.Client()
	var lagAfter int64
	for i := 0; ; i++ {
		lagAfter, err = bus.GroupLag(ctx, cl, "g", c.Topics.Raw)
		if err == nil || i > 50 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if lagAfter != lagBefore {
		t.Errorf("lag after SIGKILL and restart = %d, want %d (messages or commits lost)", lagAfter, lagBefore)
	}
}
