package pipeline

import (
	"fmt"
	"sync/atomic"
)

// failure remembers why a stage's output last failed, for its readiness
// check; the zero value is healthy.
type failure struct {
	why atomic.Pointer[string]
}

// set records err as the current failure.
func (f *failure) set(err error) {
	s := err.Error()
	f.why.Store(&s)
}

// clear records that output works again and reports whether it had failed.
func (f *failure) clear() (wasFailing bool) {
	return f.why.Swap(nil) != nil
}

// err returns nil when healthy, else an error "what: why".
func (f *failure) err(what string) error {
	if p := f.why.Load(); p != nil {
		return fmt.Errorf("%s: %s", what, *p)
	}
	return nil
}
