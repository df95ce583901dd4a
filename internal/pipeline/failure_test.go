package pipeline

import (
	"errors"
	"testing"
)

func TestFailure(t *testing.T) {
	var f failure
	steps := []struct {
		do          func() bool
		wantErr     string
		wantCleared bool
	}{
		{do: func() bool { return false }},
		{do: func() bool { f.set(errors.New("connection refused")); return false }, wantErr: "writes fail: connection refused"},
		{do: func() bool { f.set(errors.New("timeout")); return false }, wantErr: "writes fail: timeout"},
		{do: f.clear, wantCleared: true},
		{do: f.clear, wantCleared: false},
	}
	for i, s := range steps {
		if got := s.do(); got != s.wantCleared {
			t.Errorf("step %d: clear reported %v, want %v", i, got, s.wantCleared)
		}
		err := f.err("writes fail")
		if (err == nil) != (s.wantErr == "") || (err != nil && err.Error() != s.wantErr) {
			t.Errorf("step %d: err = %v, want %q", i, err, s.wantErr)
		}
	}
}
