package feed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Class is the kind of a poll's outcome: OK, NotModified, or one of the
// error classes. The set is fixed; it is used as a metric label and a log
// attribute.
type Class string

// Poll outcomes.
const (
	ClassOK                 Class = "ok"
	ClassNotModified        Class = "not_modified"
	ClassDNS                Class = "dns"
	ClassConnect            Class = "connect"
	ClassTimeout            Class = "timeout"
	ClassTLS                Class = "tls"
	ClassHTTP4xx            Class = "http_4xx"
	ClassHTTP5xx            Class = "http_5xx"
	ClassRateLimited        Class = "rate_limited"
	ClassTooLarge           Class = "too_large"
	ClassNotAFeed           Class = "not_a_feed"
	ClassParse              Class = "parse"
	ClassBlockedByChallenge Class = "blocked_by_challenge"
)

// Classes returns every Class, successes first (a new slice each call).
func Classes() []Class {
	return []Class{ClassOK, ClassNotModified, ClassDNS, ClassConnect, ClassTimeout, ClassTLS,
		ClassHTTP4xx, ClassHTTP5xx, ClassRateLimited, ClassTooLarge, ClassNotAFeed, ClassParse, ClassBlockedByChallenge}
}

// Sentinel errors wrapped by fetch errors; test with errors.Is.
var (
	// ErrTooLarge: the body is larger than Config.MaxBody.
	ErrTooLarge = errors.New("response body too large")
	// ErrBlockedAddress: the target resolved to an address the private-network
	// guard refuses (loopback, private, link-local, metadata...).
	ErrBlockedAddress = errors.New("address not allowed")
	// ErrNotAFeed: the body is not RSS, Atom or JSON Feed (often an HTML page).
	ErrNotAFeed = errors.New("not a feed")
	// ErrTooManyRedirects: more than 10 redirects.
	ErrTooManyRedirects = errors.New("too many redirects")
)

// FetchError is a failed poll: its class, the HTTP status if there was a
// response, the server's Retry-After if any, and the cause.
type FetchError struct {
	Class      Class
	Status     int
	RetryAfter time.Duration
	Err        error
}

// Error implements error.
func (e *FetchError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s (HTTP %d): %v", e.Class, e.Status, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Class, e.Err)
}

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }

// classify maps a transport error to its class.
func classify(err error) Class {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var unkAuth x509.UnknownAuthorityError
	var certInv x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var netErr net.Error
	switch {
	case errors.Is(err, ErrTooLarge):
		return ClassTooLarge
	case errors.Is(err, ErrBlockedAddress):
		return ClassConnect
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return ClassTimeout
		}
		return ClassDNS
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &unkAuth),
		errors.As(err, &certInv), errors.As(err, &recErr), errors.As(err, &alert):
		return ClassTLS
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.As(err, &netErr) && netErr.Timeout():
		return ClassTimeout
	case strings.Contains(err.Error(), "tls:"):
		return ClassTLS
	}
	return ClassConnect
}
