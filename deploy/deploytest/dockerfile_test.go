package deploytest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// dockerStage is one FROM ... stage of a Dockerfile.
type dockerStage struct {
	From, Name   string
	Instructions [][2]string // instruction (upper case), arguments
}

// parseDockerfile splits a Dockerfile into stages of instructions, joining
// continued lines and dropping comments.
func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read Dockerfile: %v", err)
	}
	var stages []dockerStage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		instr, args, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		args = strings.TrimSpace(args)
		if instr == "FROM" {
			f := strings.Fields(args)
			st := dockerStage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %s before the first FROM", instr)
		}
		last := &stages[len(stages)-1]
		last.Instructions = append(last.Instructions, [2]string{instr, args})
	}
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

// goBuildCommand returns the go build command line of a RUN instruction
// (from "go build" to the end of that shell command), with the environment
// assignments that precede it.
func goBuildCommand(run string) (env []string, args []string, ok bool) {
	for _, part := range strings.Split(run, "&&") {
		f := shellFields(part)
		i := slices.Index(f, "go")
		if i < 0 || i+1 >= len(f) || f[i+1] != "build" {
			continue
		}
		for _, w := range f[:i] {
			if strings.Contains(w, "=") && !strings.HasPrefix(w, "--") {
				env = append(env, w)
			}
		}
		return env, f[i+2:], true
	}
	return nil, nil, false
}

// TestDockerfile checks the image recipe without a Docker engine: multi-stage,
// a static build (CGO_ENABLED=0) of every command, and a small final image
// running as a non-root user with the binaries copied from the build stage.
// It then runs the Dockerfile's own go build command into a temporary folder
// and checks the four binaries `make build` makes come out.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(root(t), "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a build stage and a runtime stage", len(stages))
	}
	var env, buildArgs []string
	buildStage := ""
	for _, st := range stages[:len(stages)-1] {
		for _, in := range st.Instructions {
			if in[0] != "RUN" {
				continue
			}
			if e, a, ok := goBuildCommand(in[1]); ok {
				env, buildArgs, buildStage = e, a, st.Name
			}
		}
	}
	if buildArgs == nil {
		t.Fatal("no `go build` in a build stage of the Dockerfile")
	}
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("the go build runs with %v, want CGO_ENABLED=0 (static binaries)", env)
	}
	if !slices.Contains(buildArgs, "./cmd/...") {
		t.Errorf("go build %v does not build ./cmd/... (the binaries of make build)", buildArgs)
	}
	outIdx := slices.Index(buildArgs, "-o")
	if outIdx < 0 || outIdx+1 >= len(buildArgs) || !strings.HasSuffix(buildArgs[outIdx+1], "/") {
		t.Fatalf("go build %v has no -o DIR/ (one binary per command)", buildArgs)
	}
	outDir := buildArgs[outIdx+1]

	final := stages[len(stages)-1]
	small := false
	for _, base := range []string{"gcr.io/distroless/static", "scratch", "alpine:", "gcr.io/distroless/base"} {
		small = small || strings.HasPrefix(final.From, base)
	}
	if !small {
		t.Errorf("final image FROM %s, want distroless static, scratch or alpine", final.From)
	}
	user := ""
	copied := false
	for _, in := range final.Instructions {
		switch in[0] {
		case "USER":
			user = in[1]
		case "COPY":
			copied = copied || (strings.Contains(in[1], "--from="+buildStage) && strings.Contains(in[1], strings.TrimSuffix(outDir, "/")))
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("final image USER %q, want a non-root user", user)
	}
	if !copied {
		t.Errorf("final image does not COPY --from=%s the binaries of %s", buildStage, outDir)
	}

	// The same build, here: the Dockerfile's flags and package pattern. It
	// shares the build cache with the demo run of TestMetricsAgainstExposition
	// (also CGO_ENABLED=0): seconds when warm, minutes on a cold cache.
	if testing.Short() {
		t.Skip("-short: not running the Dockerfile's go build")
	}
	dir := t.TempDir()
	args := slices.Clone(buildArgs)
	args[outIdx+1] = dir + string(filepath.Separator)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", strings.Join(env, " "), strings.Join(cmd.Args, " "), err, out)
	}
	t.Logf("%s in %s", strings.Join(cmd.Args, " "), time.Since(start).Round(time.Millisecond))
	for _, bin := range []string{"fetcher", "enricher", "sink", "newsflow"} {
		if fi, err := os.Stat(filepath.Join(dir, bin)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("the Dockerfile's build does not make the %s binary: %v", bin, err)
		}
	}
}

// shellFields splits a shell command into words, honouring single and double
// quotes (enough for the Dockerfile's RUN lines; no escapes or expansions).
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// TestDockerignoreKeepsTheSources: the build context must hold what
// `go build ./cmd/...` reads (a too-wide .dockerignore pattern breaks the
// image build, which no Docker engine here would show).
func TestDockerignoreKeepsTheSources(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), ".dockerignore"))
	if err != nil {
		t.Fatalf("read .dockerignore: %v", err)
	}
	var patterns []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, strings.Trim(line, "/"))
		}
	}
	for _, need := range []string{"go.mod", "go.sum", "cmd", "internal", "pkg", "feeds"} {
		if _, err := os.Stat(filepath.Join(root(t), need)); err != nil {
			continue
		}
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, need); ok || strings.HasPrefix(need+"/", p+"/") {
				t.Errorf(".dockerignore pattern %q leaves %s out of the build context", p, need)
			}
		}
	}
	if !slices.Contains(patterns, ".git") {
		t.Error(".dockerignore should leave .git out of the build context")
	}
}
