package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestFlagValidation checks that validation sees the flags as parsed.
func TestFlagValidation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"empty store", []string{"--store", ""}, nil, "-store"},
		{"empty store from env", nil, map[string]string{"NEWSFLOW_STORE": ""}, "-store"},
		{"negative retention", []string{"--retention", "-1h"}, nil, "-retention"},
		{"bad batch size", []string{"--batch-size", "0"}, nil, "-batch-size"},
		{"bad brokers", []string{"--brokers", "x"}, nil, "-brokers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 naming %q", code, stderr.String(), tc.want)
			}
		})
	}
}
