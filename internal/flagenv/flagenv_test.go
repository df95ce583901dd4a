package flagenv_test

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/internal/flagenv"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantN   int
		wantD   time.Duration
		wantL   string
		wantErr string
	}{
		{name: "defaults", wantN: 5, wantD: time.Second, wantL: "a"},
		{name: "env", env: map[string]string{"NEWSFLOW_BATCH_SIZE": "7", "NEWSFLOW_BATCH_WAIT": "2s", "NEWSFLOW_BROKERS": "x:1, y:2"}, wantN: 7, wantD: 2 * time.Second, wantL: "x:1|y:2"},
		{name: "flag beats env", env: map[string]string{"NEWSFLOW_BATCH_SIZE": "7"}, args: []string{"-batch-size", "9"}, wantN: 9, wantD: time.Second, wantL: "a"},
		{name: "bad env names variable", env: map[string]string{"NEWSFLOW_BATCH_SIZE": "lots"}, wantErr: "NEWSFLOW_BATCH_SIZE (flag -batch-size)"},
		{name: "bad flag", args: []string{"-batch-wait", "soon"}, wantErr: "batch-wait"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var n int
			var d time.Duration
			var l []string
			flagenv.Int(fs, &n, "batch-size", 5, "n")
			flagenv.Duration(fs, &d, "batch-wait", time.Second, "d")
			flagenv.List(fs, &l, "brokers", []string{"a"}, "l")
			err := flagenv.Parse(fs, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantN || d != tc.wantD || strings.Join(l, "|") != tc.wantL {
				t.Errorf("got %d %v %v", n, d, l)
			}
		})
	}
}
