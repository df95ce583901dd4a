package feed

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// maxRedirects is the most redirects one request follows.
const maxRedirects = 10

// client does the HTTP of polls and full-text fetches: conditional GET,
// decompression, size cap, redirect policy, and the private-network guard.
// It is safe for concurrent use.
type client struct {
	cfg       Config
	transport *http.Transport
	pools     pools
	proxies   sync.Map // host:port of proxies in use -> true
}

// newClient builds the client. The private-network guard checks every
// address dialled after DNS resolution. A proxy from the environment
// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) is the operator's choice and may be
// private; for requests through it, the target host is resolved and checked
// before the request is handed to the proxy.
func newClient(cfg Config) *client {
	c := &client{cfg: cfg}
	direct := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	guarded := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second, Control: guardDial}
	// Read the environment now (http.ProxyFromEnvironment reads it once
	// per process).
	envProxy := httpproxy.FromEnvironment().ProxyFunc()
	proxy := func(req *http.Request) (*url.URL, error) { return envProxy(req.URL) }
	dial := direct.DialContext
	if !cfg.AllowPrivate {
		proxy = func(req *http.Request) (*url.URL, error) {
			u, err := envProxy(req.URL)
			if err != nil || u == nil {
				return u, err
			}
			if err := checkHostPublic(req.Context(), req.URL.Hostname()); err != nil {
				return nil, err
			}
			c.proxies.Store(hostPort(u), true)
			return u, nil
		}
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if _, ok := c.proxies.Load(addr); ok {
				return direct.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		}
	}
	c.transport = &http.Transport{
		Proxy:                 proxy,
		DialContext:           dial,
		TLSHandshakeTimeout:   cfg.TLSTimeout,
		ResponseHeaderTimeout: cfg.HeaderTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   cfg.PerHost + 1,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		// We ask for and decode compression ourselves so that the size cap
		// applies to the decompressed body (a gzip bomb is too_large).
		DisableCompression: true,
	}
	return c
}

// hostPort returns u's host:port with the scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// checkHostPublic resolves host and fails with ErrBlockedAddress if any of
// its addresses is not public.
func checkHostPublic(ctx context.Context, host string) error {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if !publicAddr(a) {
			return fmt.Errorf("%s resolves to %s: %w", host, a, ErrBlockedAddress)
		}
	}
	return nil
}

func (c *client) close() { c.transport.CloseIdleConnections() }

// guardDial refuses connections to addresses a feed must not reach. It runs
// after DNS resolution on every dial, so it also covers redirects and DNS
// rebinding.
func guardDial(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w: unparsable address", address, ErrBlockedAddress)
	}
	if !publicAddr(ap.Addr()) {
		return fmt.Errorf("dial %s: %w", address, ErrBlockedAddress)
	}
	return nil
}

// blockedPrefixes are non-public ranges not covered by netip's predicates.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this" network
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// publicAddr reports whether a is a globally routable unicast address.
// Metadata services (169.254.169.254, fd00:ec2::254) are link-local or
// private and so refused.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// request is one GET.
type request struct {
	URL          string
	ETag         string
	LastModified string
	Headers      map[string]string
	Accept       string
}

// response is a successful (2xx or 304) answer with its body read.
type response struct {
	Status       int
	Header       http.Header
	Body         []byte
	buf          *bytes.Buffer // Body's pooled storage
	pools        *pools
	FinalURL     string
	PermanentURL string // the new URL when every redirect followed was permanent
	WireBytes    int64
}

// release returns the body's storage to the pool; Body must not be used
// afterwards.
func (r *response) release() {
	if r != nil && r.buf != nil {
		r.pools.putBuffer(r.buf)
		r.buf, r.Body = nil, nil
	}
}

// NotModified reports a 304 answer.
func (r *response) NotModified() bool { return r.Status == http.StatusNotModified }

// get performs req within the total timeout. A non-nil error is a
// *FetchError; resp may be non-nil alongside it (with the status and
// headers) so that callers can read Retry-After.
func (c *client) get(ctx context.Context, req request) (*response, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, &FetchError{Class: ClassConnect, Err: fmt.Errorf("parse url: %w", err)}
	}
	if u.Scheme == "file" {
		return c.getFile(u, req)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL, nil)
	if err != nil {
		return nil, &FetchError{Class: ClassConnect, Err: fmt.Errorf("new request: %w", err)}
	}
	hr.Header.Set("User-Agent", c.cfg.UserAgent)
	hr.Header.Set("Accept-Encoding", "gzip, deflate")
	if req.Accept != "" {
		hr.Header.Set("Accept", req.Accept)
	}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	if req.ETag != "" {
		hr.Header.Set("If-None-Match", req.ETag)
	}
	if req.LastModified != "" {
		hr.Header.Set("If-Modified-Since", req.LastModified)
	}
	permanent := true
	hc := &http.Client{
		Transport: c.transport,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return ErrTooManyRedirects
			}
			if r.Response != nil {
				if s := r.Response.StatusCode; s != http.StatusMovedPermanently && s != http.StatusPermanentRedirect {
					permanent = false
				}
			}
			// Conditional headers refer to the original URL's validators;
			// they travel with the redirect, which is what servers expect.
			return nil
		},
	}
	res, err := hc.Do(hr)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, &FetchError{Class: ClassTimeout, Err: fmt.Errorf("get %s: %w", req.URL, err)}
		}
		return nil, &FetchError{Class: classify(err), Err: fmt.Errorf("get %s: %w", req.URL, err)}
	}
	defer res.Body.Close()
	out := &response{Status: res.StatusCode, Header: res.Header, FinalURL: res.Request.URL.String()}
	if permanent && out.FinalURL != req.URL {
		out.PermanentURL = out.FinalURL
	}
	if res.StatusCode == http.StatusNotModified {
		n, _ := io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		out.WireBytes = n
		return out, nil
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return out, c.statusError(res, out)
	}
	if res.ContentLength > c.cfg.MaxBody {
		return out, &FetchError{Class: ClassTooLarge, Status: res.StatusCode,
			Err: fmt.Errorf("get %s: %w: Content-Length %d > %d", req.URL, ErrTooLarge, res.ContentLength, c.cfg.MaxBody)}
	}
	buf, wire, err := c.pools.readBody(res.Body, res.Header.Get("Content-Encoding"), c.cfg.MaxBody)
	out.WireBytes = wire
	if err != nil {
		fe := &FetchError{Class: classify(err), Status: res.StatusCode, Err: fmt.Errorf("read %s: %w", req.URL, err)}
		if ctx.Err() != nil {
			fe.Class = ClassTimeout
		}
		return out, fe
	}
	out.Body, out.buf, out.pools = buf.Bytes(), buf, &c.pools
	return out, nil
}

// statusError builds the error of a non-2xx, non-304 answer, reading a small
// part of the body to recognise anti-bot challenge pages.
func (c *client) statusError(res *http.Response, out *response) error {
	head, _ := io.ReadAll(io.LimitReader(res.Body, 32<<10))
	out.WireBytes = int64(len(head))
	fe := &FetchError{Status: res.StatusCode, RetryAfter: parseRetryAfter(res.Header.Get("Retry-After"), time.Now()),
		Err: fmt.Errorf("get %s: %s", res.Request.URL, res.Status)}
	switch {
	case isChallenge(res, head):
		fe.Class = ClassBlockedByChallenge
	case res.StatusCode == http.StatusTooManyRequests:
		fe.Class = ClassRateLimited
	case res.StatusCode >= 500:
		fe.Class = ClassHTTP5xx
	default:
		fe.Class = ClassHTTP4xx
	}
	return fe
}

// isChallenge recognises the interstitial pages of anti-bot services
// (Cloudflare, DDoS-Guard, Sucuri, Akamai) that a feed reader cannot pass.
func isChallenge(res *http.Response, head []byte) bool {
	if strings.EqualFold(res.Header.Get("Cf-Mitigated"), "challenge") {
		return true
	}
	if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusServiceUnavailable && res.StatusCode != http.StatusTooManyRequests {
		return false
	}
	lower := bytes.ToLower(head)
	for _, marker := range []string{"challenge-platform", "cf-browser-verification", "cf_chl_", "<title>just a moment...</title>",
		"ddos-guard", "sucuri website firewall", "akamai bot manager"} {
		if bytes.Contains(lower, []byte(marker)) {
			return true
		}
	}
	return false
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP-date;
// it returns 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > 7*24*3600 {
			n = 7 * 24 * 3600
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readBody reads r, decoded per encoding, into a pooled buffer, and fails
// with ErrTooLarge once more than max bytes (decoded) or max bytes on the
// wire would be read.
func (p *pools) readBody(r io.Reader, encoding string, max int64) (*bytes.Buffer, int64, error) {
	wire := &countingReader{r: io.LimitReader(r, max+1)}
	var dec io.Reader = wire
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, _ := p.gzip.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(wire)
		} else {
			err = zr.Reset(wire)
		}
		if err != nil {
			return nil, wire.n, fmt.Errorf("gzip: %w", err)
		}
		defer p.gzip.Put(zr)
		dec = zr
	case "deflate":
		// "deflate" is zlib-wrapped per RFC 9110, but some servers send raw
		// deflate; look at the zlib header to tell.
		br := &peekReader{r: wire}
		hdr, err := br.peek(2)
		if err != nil {
			return nil, wire.n, fmt.Errorf("deflate: %w", err)
		}
		if len(hdr) == 2 && hdr[0]&0x0f == 8 && (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, wire.n, fmt.Errorf("deflate: %w", err)
			}
			defer zr.Close()
			dec = zr
		} else {
			fr := flate.NewReader(br)
			defer fr.Close()
			dec = fr
		}
	default:
		return nil, 0, fmt.Errorf("unsupported Content-Encoding %q", encoding)
	}
	buf := p.getBuffer()
	n, err := buf.ReadFrom(io.LimitReader(dec, max+1))
	if err != nil {
		p.putBuffer(buf)
		return nil, wire.n, err
	}
	if n > max || wire.n > max {
		p.putBuffer(buf)
		return nil, wire.n, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return buf, wire.n, nil
}

// pools recycles body buffers and gzip readers: polls read thousands of
// bodies of similar size. The zero value is ready to use.
type pools struct {
	bufs sync.Pool // *bytes.Buffer
	gzip sync.Pool // *gzip.Reader (each holds a 32 KiB window)
}

// maxPooledBuffer keeps rare huge bodies from pinning memory in the pool.
const maxPooledBuffer = 1 << 20

func (p *pools) getBuffer() *bytes.Buffer {
	if b, ok := p.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (p *pools) putBuffer(b *bytes.Buffer) {
	if b != nil && b.Cap() <= maxPooledBuffer {
		p.bufs.Put(b)
	}
}

// peekReader lets readBody look at the first bytes without losing them.
type peekReader struct {
	r   io.Reader
	buf []byte
}

func (p *peekReader) peek(n int) ([]byte, error) {
	for len(p.buf) < n {
		b := make([]byte, n-len(p.buf))
		m, err := p.r.Read(b)
		p.buf = append(p.buf, b[:m]...)
		if err == io.EOF {
			return p.buf, nil
		}
		if err != nil {
			return p.buf, err
		}
	}
	return p.buf, nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// getFile serves file:// feeds; the file's modification time stands for
// Last-Modified so that an unchanged file is "not modified".
func (c *client) getFile(u *url.URL, req request) (*response, error) {
	f, err := os.Open(u.Path)
	if err != nil {
		return nil, &FetchError{Class: ClassConnect, Err: fmt.Errorf("open %s: %w", u.Path, err)}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &FetchError{Class: ClassConnect, Err: fmt.Errorf("stat %s: %w", u.Path, err)}
	}
	lm := st.ModTime().UTC().Format(http.TimeFormat)
	etag := fmt.Sprintf(`"%x-%x"`, st.ModTime().UnixNano(), st.Size())
	h := http.Header{}
	h.Set("Last-Modified", lm)
	h.Set("ETag", etag)
	out := &response{Status: http.StatusOK, Header: h, FinalURL: req.URL}
	if req.ETag == etag {
		out.Status = http.StatusNotModified
		return out, nil
	}
	if st.Size() > c.cfg.MaxBody {
		return out, &FetchError{Class: ClassTooLarge, Err: fmt.Errorf("read %s: %w", u.Path, ErrTooLarge)}
	}
	buf, n, err := c.pools.readBody(f, "", c.cfg.MaxBody)
	out.WireBytes = n
	if err != nil {
		return out, &FetchError{Class: classify(err), Err: fmt.Errorf("read %s: %w", u.Path, err)}
	}
	out.Body, out.buf, out.pools = buf.Bytes(), buf, &c.pools
	return out, nil
}
