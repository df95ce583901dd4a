package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// kcatRecord is one record as `kcat -C -J` prints it.
type kcatRecord struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	// Headers alternate names and values: ["ce_type", "org...", ...].
	Headers []string `json:"headers"`
	Key     *string  `json:"key"`
	Payload *string  `json:"payload"`
}

// header returns the value of the first header named name and whether it is
// present.
func (r kcatRecord) header(name string) (string, bool) {
	for i := 0; i+1 < len(r.Headers); i += 2 {
		if r.Headers[i] == name {
			return r.Headers[i+1], true
		}
	}
	return "", false
}

func (r kcatRecord) key() string {
	if r.Key == nil {
		return ""
	}
	return *r.Key
}

func (r kcatRecord) payload() string {
	if r.Payload == nil {
		return ""
	}
	return *r.Payload
}

// kcatConsume reads topic from the beginning to its current end with kcat
// (librdkafka, an independent client) and returns every record.
func kcatConsume(ctx context.Context, kcat, broker, topic string) ([]kcatRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-J", "-q")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kcat -C -t %s: %v: %s", topic, err, strings.TrimSpace(stderr.String()))
	}
	var recs []kcatRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r kcatRecord
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("kcat -J printed %q: %w", line, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read kcat output: %w", err)
	}
	return recs, nil
}

// kcatProduce writes one record (key, value, headers "name=value") to topic
// with kcat and waits for the broker's acknowledgement.
func kcatProduce(ctx context.Context, kcat, broker, topic, key string, value []byte, headers ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if bytes.ContainsAny(value, "\n") {
		return fmt.Errorf("kcat -P: value must be one line")
	}
	args := []string{"-P", "-b", broker, "-t", topic, "-k", key, "-X", "acks=all"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cmd := exec.CommandContext(ctx, kcat, args...)
	cmd.Stdin = bytes.NewReader(append(bytes.Clone(value), '\n'))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kcat -P -t %s: %v: %s", topic, err, strings.TrimSpace(string(out)))
	}
	return nil
}
