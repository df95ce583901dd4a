package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sample is one series of a Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetrics parses the Prometheus text format (what /metrics serves) into
// samples. It handles the subset client_golang writes: one sample per line,
// label values quoted with \" \\ \n escapes, no timestamps.
func parseMetrics(body string) ([]sample, error) {
	var out []sample
	for n, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i > 0 {
			s.name, rest = line[:i], line[i:]
		} else {
			return nil, fmt.Errorf("line %d: %q: no value", n+1, line)
		}
		if strings.HasPrefix(rest, "{") {
			rest = rest[1:]
			for !strings.HasPrefix(rest, "}") {
				eq := strings.Index(rest, `="`)
				if eq < 0 {
					return nil, fmt.Errorf("line %d: %q: bad labels", n+1, line)
				}
				name := strings.TrimPrefix(rest[:eq], ",")
				rest = rest[eq+2:]
				var val strings.Builder
				i := 0
				for ; i < len(rest) && rest[i] != '"'; i++ {
					if rest[i] == '\\' && i+1 < len(rest) {
						i++
						if rest[i] == 'n' {
							val.WriteByte('\n')
							continue
						}
					}
					val.WriteByte(rest[i])
				}
				if i == len(rest) {
					return nil, fmt.Errorf("line %d: %q: unterminated label value", n+1, line)
				}
				s.labels[name] = val.String()
				rest = strings.TrimPrefix(rest[i+1:], ",")
			}
			rest = rest[1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("line %d: %q: no value", n+1, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: value: %w", n+1, line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, nil
}

// metricSum returns the sum of the samples named name whose labels include
// every name=value pair of match, and whether any sample matched.
func metricSum(samples []sample, name string, match ...string) (float64, bool) {
	var sum float64
	found := false
outer:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(match); i += 2 {
			if s.labels[match[i]] != match[i+1] {
				continue outer
			}
		}
		sum += s.value
		found = true
	}
	return sum, found
}

// scrape fetches and parses p's /metrics.
func (p *proc) scrape(ctx context.Context) ([]sample, error) {
	code, body, err := p.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics from %s: status %d", p.name, code)
	}
	return parseMetrics(body)
}

// metric returns the sum of the matching series of p's /metrics; a missing
// series is an error.
func (p *proc) metric(ctx context.Context, name string, match ...string) (float64, error) {
	samples, err := p.scrape(ctx)
	if err != nil {
		return 0, err
	}
	v, ok := metricSum(samples, name, match...)
	if !ok {
		return 0, fmt.Errorf("%s serves no series %s%v", p.name, name, match)
	}
	return v, nil
}

// promQuery runs an instant query on the Prometheus server at base and
// returns the value of every result series keyed by its "job" label (or
// "" when the result has none).
func promQuery(ctx context.Context, base, query string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := strings.TrimRight(base, "/") + "/api/v1/query?query=" + url.QueryEscape(query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus query %q: %w", query, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("prometheus query %q: read: %w", query, err)
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("prometheus query %q: decode %q: %w", query, body, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus query %q: %s: %s", query, r.Status, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("prometheus query %q: result type %s, want vector", query, r.Data.ResultType)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		str, ok := s.Value[1].(string)
		if !ok {
			return nil, fmt.Errorf("prometheus query %q: value %v is not a string", query, s.Value[1])
		}
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("prometheus query %q: value %q: %w", query, str, err)
		}
		out[s.Metric["job"]] = v
	}
	return out, nil
}
