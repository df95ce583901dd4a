package faults

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestSecretsNotLogged runs the services with a Kafka SASL password and a
// PostgreSQL password given the ways docs/security.md describes
// (NEWSFLOW_KAFKA_SASL_PASSWORD, --kafka-sasl-password-file, the password in
// NEWSFLOW_STORE's URL or its query, PGPASSWORD), at debug level, through
// failures to connect and a successful SASL login, and greps everything they
// logged for the secret values: they must not appear.
func TestSecretsNotLogged(t *testing.T) {
	kafkaSecret, wrongSecret, pgSecret, keySecret := secret(t, "kafka"), secret(t, "wrong"), secret(t, "pg"), secret(t, "sslkey")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "newsflow", kafkaSecret), kfake.Superuser("PLAIN", "plainuser", kafkaSecret))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	closed := freeAddr(t) // nothing listens here: the database is unreachable
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "kafka-password")
	if err := os.WriteFile(pwFile, []byte(kafkaSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	scram := []string{"--brokers", brokers, "--kafka-sasl-mechanism", "scram-sha-256", "--kafka-sasl-username", "newsflow", "--log-level", "debug"}
	plain := []string{"--brokers", brokers, "--kafka-sasl-mechanism", "plain", "--kafka-sasl-username", "plainuser", "--log-level", "debug"}

	tests := []struct {
		name  string
		cmd   string
		env   []string
		args  []string
		ready bool   // wait for /readyz 200: the SASL login worked
		want  string // a line the run must log (the failure it met)
	}{
		{name: "sink, password in the store URL, database unreachable", cmd: "sink",
			env:  []string{"NEWSFLOW_KAFKA_SASL_PASSWORD=" + kafkaSecret, "NEWSFLOW_STORE=postgres://newsflow:" + pgSecret + "@" + closed + "/newsflow?sslmode=disable"},
			args: scram, want: "database not reachable"},
		{name: "sink, password in the store URL query, database unreachable", cmd: "sink",
			env:  []string{"NEWSFLOW_KAFKA_SASL_PASSWORD=" + kafkaSecret, "NEWSFLOW_STORE=postgres://newsflow@" + closed + "/newsflow?sslmode=disable&password=" + pgSecret},
			args: scram, want: "database not reachable"},
		{name: "sink, sslpassword and password in the store URL query, database unreachable", cmd: "sink",
			env:  []string{"NEWSFLOW_KAFKA_SASL_PASSWORD=" + kafkaSecret, "NEWSFLOW_STORE=postgres://newsflow@" + closed + "/newsflow?sslmode=disable&sslpassword=" + keySecret + "&password=" + pgSecret},
			args: scram, want: "database not reachable"},
		{name: "sink, PGPASSWORD, database unreachable", cmd: "sink",
			env:  []string{"NEWSFLOW_KAFKA_SASL_PASSWORD=" + kafkaSecret, "PGPASSWORD=" + pgSecret, "NEWSFLOW_STORE=postgres://newsflow@" + closed + "/newsflow?sslmode=disable"},
			args: scram, want: "database not reachable"},
		{name: "enricher, SCRAM password from the environment", cmd: "enricher",
			env: []string{"NEWSFLOW_KAFKA_SASL_PASSWORD=" + kafkaSecret}, args: scram, ready: true},
		{name: "enricher, PLAIN password from a file", cmd: "enricher",
			args: append([]string{"--kafka-sasl-password-file", pwFile}, plain...), ready: true},
		{name: "enricher, wrong SCRAM password", cmd: "enricher",
			env: []string{"NEWSFLOW_KAFKA_SASL_PASSWORD=" + wrongSecret}, args: scram},
		{name: "fetcher, wrong PLAIN password", cmd: "fetcher",
			env:  []string{"NEWSFLOW_KAFKA_SASL_PASSWORD=" + wrongSecret},
			args: append([]string{"--feeds", writeEmptyList(t, dir), "--state", filepath.Join(dir, "state.db")}, plain...)},
	}
	leaks := 0
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t)
			logPath := filepath.Join(dir, fmt.Sprintf("%d-%s.log", i, tc.cmd))
			args := append([]string{"--metrics-addr", addr}, tc.args...)
			pr := newProc(t, tc.cmd, binary(t, tc.cmd), logPath, serviceEnv(tc.env...), args...)
			if err := pr.start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) && pr.running() {
				log, _ := os.ReadFile(logPath)
				if tc.want != "" && strings.Contains(string(log), tc.want) {
					break
				}
				if tc.ready && readyz(addr) {
					break
				}
				if !tc.ready && tc.want == "" && time.Now().After(deadline.Add(-12*time.Second)) {
					break // let a failing login retry and log for 8 s
				}
				time.Sleep(200 * time.Millisecond)
			}
			if why, usage, ok := pr.exitedByItself(); ok && usage {
				t.Errorf("%s; the run proves nothing; log:\n%s", why, pr.tail(5))
			}
			if tc.ready && !readyz(addr) {
				t.Errorf("%s did not become ready with SASL credentials; log:\n%s", tc.cmd, pr.tail(20))
			}
			_ = pr.stop(30 * time.Second)
			b, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			log := string(b)
			if tc.want != "" && !strings.Contains(log, tc.want) {
				t.Errorf("log has no %q line; log:\n%s", tc.want, pr.tail(20))
			}
			for _, s := range []string{kafkaSecret, wrongSecret, pgSecret, keySecret} {
				if strings.Contains(log, s) {
					leaks++
					t.Errorf("a secret was logged:\n%s", linesWith(log, s))
				}
			}
			t.Logf("%d log lines, %d bytes; last line: %s", strings.Count(log, "\n"), len(log), lastLine(log))
		})
	}
	fmt.Printf("secrets: %d service runs at debug level, %d secrets found in their logs\n", len(tests), leaks)
}

// secret returns a random value that cannot appear in a log by chance.
func secret(t *testing.T, what string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return what + "-S3cr3t-" + hex.EncodeToString(b)
}

func writeEmptyList(t *testing.T, dir string) string {
	p := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(p, []byte("feeds: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readyz(addr string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func linesWith(log, s string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			out = append(out, "  "+l)
		}
	}
	return strings.Join(out, "\n")
}

func lastLine(log string) string {
	log = strings.TrimRight(log, "\n")
	if i := strings.LastIndex(log, "\n"); i >= 0 {
		return log[i+1:]
	}
	return log
}
