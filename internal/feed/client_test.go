package feed

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPublicAddr(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
	}{
		{"93.184.215.14", true},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", true},
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fd00:ec2::254", false},   // AWS metadata over IPv6
		{"fe80::1", false},
		{"100.100.100.200", false}, // CGNAT / Alibaba metadata
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:10.0.0.1", false},
		{"198.18.0.5", false},
	}
	for _, tc := range tests {
		if got := publicAddr(netip.MustParseAddr(tc.addr)); got != tc.public {
			t.Errorf("publicAddr(%s) = %v, want %v", tc.addr, got, tc.public)
		}
	}
	if err := guardDial("tcp", "127.0.0.1:80", nil); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("guardDial loopback: %v", err)
	}
	if err := guardDial("tcp", "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443", nil); err != nil {
		t.Errorf("guardDial public: %v", err)
	}
}

func TestReadBody(t *testing.T) {
	doc := []byte(strings.Repeat("<item>news</item>", 100))
	var gz, zl, raw bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(doc)
	w.Close()
	z := zlib.NewWriter(&zl)
	z.Write(doc)
	z.Close()
	f, _ := flate.NewWriter(&raw, flate.DefaultCompression)
	f.Write(doc)
	f.Close()
	tests := []struct {
		name, encoding string
		body           []byte
		max            int64
		want           []byte
		err            error
	}{
		{"identity", "", doc, 1 << 20, doc, nil},
		{"gzip", "gzip", gz.Bytes(), 1 << 20, doc, nil},
		{"x-gzip", "x-gzip", gz.Bytes(), 1 << 20, doc, nil},
		{"zlib deflate", "deflate", zl.Bytes(), 1 << 20, doc, nil},
		{"raw deflate", "deflate", raw.Bytes(), 1 << 20, doc, nil},
		{"too large", "", doc, 100, nil, ErrTooLarge},
		{"too large after gunzip", "gzip", gz.Bytes(), 1000, nil, ErrTooLarge},
		{"exactly max", "", doc, int64(len(doc)), doc, nil},
	}
	var p pools
	for _, tc := range tests {
		buf, _, err := p.readBody(bytes.NewReader(tc.body), tc.encoding, tc.max)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(buf.Bytes(), tc.want) {
			t.Errorf("%s: err %v", tc.name, err)
			continue
		}
		p.putBuffer(buf)
	}
	if _, _, err := p.readBody(strings.NewReader("x"), "br", 100); err == nil {
		t.Error("unsupported encoding accepted")
	}
	if _, _, err := p.readBody(strings.NewReader("not gzip"), "gzip", 100); err == nil {
		t.Error("corrupt gzip accepted")
	}
}

func TestProxyFromEnvironmentWithGuard(t *testing.T) {
	// The proxy is on loopback (as many are); the guard must let the
	// fetcher reach it, check the target instead, and refuse private targets.
	var proxied []string
	var mu sync.Mutex
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxied = append(proxied, r.URL.String())
		mu.Unlock()
		w.Write(readTestdata(t, "atom03.xml"))
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	cfg := DefaultConfig()
	c := newClient(cfg)
	defer c.close()
	resp, err := c.get(context.Background(), request{URL: "http://93.184.215.14/feed.xml"})
	if err != nil {
		t.Fatalf("public target through a loopback proxy: %v", err)
	}
	resp.release()
	_, err = c.get(context.Background(), request{URL: "http://10.0.0.8/feed.xml"})
	if !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("private target through the proxy: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(proxied) != 1 || proxied[0] != "http://93.184.215.14/feed.xml" {
		t.Errorf("proxy saw %v", proxied)
	}
}

func TestTransportErrorClasses(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	// A listener that accepts and never answers: the TLS handshake stalls.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mute.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	// A port nobody listens on.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	cfg := DefaultConfig()
	cfg.AllowPrivate = true
	cfg.TLSTimeout = 300 * time.Millisecond
	cfg.HeaderTimeout = 300 * time.Millisecond
	c := newClient(cfg)
	defer c.close()
	tests := []struct {
		url  string
		want Class
	}{
		{tlsSrv.URL + "/feed", ClassTLS}, // certificate of an unknown authority
		{"https://" + mute.Addr().String() + "/feed", ClassTimeout},
		{"http://" + mute.Addr().String() + "/feed", ClassTimeout}, // no response headers
		{"http://" + closedAddr + "/feed", ClassConnect},
	}
	for _, tc := range tests {
		_, err := c.get(context.Background(), request{URL: tc.url})
		var fe *FetchError
		if !errors.As(err, &fe) || fe.Class != tc.want {
			t.Errorf("%s: %v, want class %s", tc.url, err, tc.want)
		}
	}
}
