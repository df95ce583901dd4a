package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/internal/feed"
)

// composeFile is the part of docker-compose.yml the test reads.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image      string            `yaml:"image"`
	Build      any               `yaml:"build"`
	Entrypoint []string          `yaml:"entrypoint"`
	Command    any               `yaml:"command"`
	Ports      []string          `yaml:"ports"`
	Volumes    []string          `yaml:"volumes"`
	Env        map[string]string `yaml:"environment"`
	DependsOn  map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, filepath.Join(root(t), "docker-compose.yml"), &c)
	return c
}

// TestComposeStructure checks what `docker compose up` needs to give a
// working stack, without a Docker engine: the services and their images,
// health checks, ports, the start order, and that every file mounted from the
// repository exists.
func TestComposeStructure(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"kafka", "postgres", "prometheus", "grafana", "fetcher", "enricher", "sink"} {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("service %s missing", name)
			continue
		}
		if len(s.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no health check", name)
		}
		if len(s.Ports) == 0 {
			t.Errorf("service %s publishes no port", name)
		}
	}
	if t.Failed() {
		return
	}

	kafka := c.Services["kafka"]
	if !strings.HasPrefix(kafka.Image, "apache/kafka:") {
		t.Errorf("kafka image %q, want the official apache/kafka", kafka.Image)
	}
	if roles := kafka.Env["KAFKA_PROCESS_ROLES"]; roles != "broker,controller" {
		t.Errorf("kafka KAFKA_PROCESS_ROLES %q, want broker,controller (KRaft, single node)", roles)
	}
	if !strings.Contains(kafka.Env["KAFKA_ADVERTISED_LISTENERS"], "kafka:9092") {
		t.Errorf("kafka advertises %q; the stages connect to kafka:9092", kafka.Env["KAFKA_ADVERTISED_LISTENERS"])
	}
	if kafka.Env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] != "1" {
		t.Error("kafka: a single node needs KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR 1, or consumer groups never start")
	}

	// The stages: built from the Dockerfile, each with its own binary, the
	// metrics port Prometheus scrapes, and Kafka healthy before they start.
	stages := map[string]string{"fetcher": "9101", "enricher": "9102", "sink": "9103"}
	for name, port := range stages {
		s := c.Services[name]
		if s.Build == nil {
			t.Errorf("%s is not built from the Dockerfile", name)
		}
		if len(s.Entrypoint) == 0 || filepath.Base(s.Entrypoint[0]) != name {
			t.Errorf("%s entrypoint %v, want its own binary", name, s.Entrypoint)
		}
		if s.Env["NEWSFLOW_BROKERS"] != "kafka:9092" {
			t.Errorf("%s NEWSFLOW_BROKERS %q, want kafka:9092", name, s.Env["NEWSFLOW_BROKERS"])
		}
		if s.Env["NEWSFLOW_METRICS_ADDR"] != ":"+port {
			t.Errorf("%s NEWSFLOW_METRICS_ADDR %q, want :%s", name, s.Env["NEWSFLOW_METRICS_ADDR"], port)
		}
		if !slices.Contains(s.Ports, port+":"+port) {
			t.Errorf("%s ports %v, want %s:%s", name, s.Ports, port, port)
		}
		if s.DependsOn["kafka"].Condition != "service_healthy" {
			t.Errorf("%s does not wait for a healthy kafka", name)
		}
		if hc := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(hc, ":"+port+"/readyz") {
			t.Errorf("%s health check %q does not ask its /readyz", name, hc)
		}
	}
	sink := c.Services["sink"]
	if !strings.HasPrefix(sink.Env["NEWSFLOW_STORE"], "postgres://") || !strings.Contains(sink.Env["NEWSFLOW_STORE"], "@postgres:5432/") {
		t.Errorf("sink NEWSFLOW_STORE %q, want the postgres service", sink.Env["NEWSFLOW_STORE"])
	}
	if sink.DependsOn["postgres"].Condition != "service_healthy" {
		t.Error("sink does not wait for a healthy postgres")
	}

	// The fetcher reads a feed list mounted from the repository.
	if src := feedListSource(t, c); src == "" {
		t.Errorf("fetcher: NEWSFLOW_FEEDS %q is not a feed list mounted from the repository (volumes %v)",
			c.Services["fetcher"].Env["NEWSFLOW_FEEDS"], c.Services["fetcher"].Volumes)
	}

	// Prometheus loads the repository's configuration and rules; Grafana its
	// provisioning and dashboards.
	want := map[string][]string{
		"prometheus": {"./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml", "./deploy/prometheus/rules:/etc/prometheus/rules"},
		"grafana":    {"./deploy/grafana/provisioning:/etc/grafana/provisioning", "./deploy/grafana/dashboards:"},
	}
	for svc, mounts := range want {
		for _, m := range mounts {
			found := false
			for _, v := range c.Services[svc].Volumes {
				found = found || strings.HasPrefix(v, m)
			}
			if !found {
				t.Errorf("%s does not mount %s (volumes %v)", svc, m, c.Services[svc].Volumes)
			}
		}
	}

	// Every file or folder mounted from the repository exists; every named
	// volume is declared.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(root(t), src)); err != nil {
					t.Errorf("%s mounts %s, which does not exist: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s uses volume %s, which is not declared", name, src)
			}
		}
	}
}

// feedListSource returns the repository file the fetcher's NEWSFLOW_FEEDS
// names through its bind mounts, or "" when it is not mounted from the
// repository.
func feedListSource(t *testing.T, c composeFile) string {
	fetcher := c.Services["fetcher"]
	feeds := fetcher.Env["NEWSFLOW_FEEDS"]
	if feeds == "" {
		return ""
	}
	for _, v := range fetcher.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") {
			continue
		}
		if feeds == parts[1] {
			return filepath.Join(root(t), parts[0])
		}
		if rest, ok := strings.CutPrefix(feeds, strings.TrimSuffix(parts[1], "/")+"/"); ok {
			return filepath.Join(root(t), parts[0], rest)
		}
	}
	return ""
}

// TestComposeFeedListParses: the mounted feed list exists and is one the
// fetcher accepts (parsed by the fetcher's own loader).
func TestComposeFeedListParses(t *testing.T) {
	src := feedListSource(t, loadCompose(t))
	if src == "" {
		t.Fatal("no feed list mounted for the fetcher")
	}
	list, err := feed.LoadList(src)
	if err != nil {
		t.Fatalf("the fetcher refuses %s: %v", src, err)
	}
	if len(list.Feeds) < 3 {
		t.Errorf("%s lists %d feeds", src, len(list.Feeds))
	}
	for _, f := range list.Feeds {
		if !strings.HasPrefix(f.URL, "https://") {
			t.Errorf("%s: feed %q is not an https URL", src, f.URL)
		}
	}
}

// TestGrafanaProvisioning: the data sources have the fixed uids the
// dashboards default to, the dashboard provider reads the folder compose
// mounts the dashboards at, and the dashboards have stable uids, tags and a
// datasource variable that every panel uses.
func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(root(t), "deploy", "grafana", "provisioning", "datasources", "datasources.yaml"), &ds)
	uids := map[string]string{}
	for _, d := range ds.Datasources {
		uids[d.UID] = d.Type
	}
	if uids["newsflow-prometheus"] != "prometheus" {
		t.Errorf("no Prometheus data source with uid newsflow-prometheus: %v", uids)
	}
	if uids["newsflow-postgres"] != "grafana-postgresql-datasource" {
		t.Errorf("no PostgreSQL data source with uid newsflow-postgres: %v", uids)
	}

	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(root(t), "deploy", "grafana", "provisioning", "dashboards", "dashboards.yaml"), &prov)
	mountedAt := ""
	for _, v := range loadCompose(t).Services["grafana"].Volumes {
		if src, dst, ok := strings.Cut(v, ":"); ok && src == "./deploy/grafana/dashboards" {
			mountedAt, _, _ = strings.Cut(dst, ":")
		}
	}
	if len(prov.Providers) == 0 || prov.Providers[0].Options.Path != mountedAt {
		t.Errorf("dashboard provider path %+v, want where compose mounts deploy/grafana/dashboards (%q)", prov.Providers, mountedAt)
	}

	wantDS := map[string]struct{ uid, typ string }{
		"pipeline-health.json": {"newsflow-prometheus", "prometheus"},
		"news-monitor.json":    {"newsflow-postgres", "grafana-postgresql-datasource"},
	}
	seen := map[string]bool{}
	for file, d := range loadDashboards(t) {
		if d.UID == "" || seen[d.UID] {
			t.Errorf("%s: uid %q missing or not unique", file, d.UID)
		}
		seen[d.UID] = true
		if len(d.Tags) == 0 || !slices.Contains(d.Tags, "newsflow") {
			t.Errorf("%s: tags %v, want newsflow among them", file, d.Tags)
		}
		w := wantDS[file]
		var dsVar *variable
		for i, v := range d.Templating.List {
			if v.Type == "datasource" {
				dsVar = &d.Templating.List[i]
			}
		}
		if dsVar == nil {
			t.Errorf("%s: no datasource variable", file)
			continue
		}
		if !strings.Contains(string(dsVar.Query), w.typ) || !strings.Contains(string(dsVar.Current.Value), w.uid) {
			t.Errorf("%s: datasource variable %s=%s, want type %s defaulting to %s", file, dsVar.Query, dsVar.Current.Value, w.typ, w.uid)
		}
		for _, p := range allPanels(d.Panels) {
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${"+dsVar.Name+"}" {
				t.Errorf("%s: panel %q does not use the datasource variable (%+v)", file, p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", file, p.Title)
			}
		}
	}
	news := loadDashboards(t)["news-monitor.json"]
	hasGeomap := false
	for _, p := range allPanels(news.Panels) {
		hasGeomap = hasGeomap || p.Type == "geomap"
	}
	if !hasGeomap {
		t.Error("the News monitor has no geomap panel")
	}
}
