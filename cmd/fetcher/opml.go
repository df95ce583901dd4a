package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/newsflow/newsflow/internal/feed"
	"github.com/newsflow/newsflow/internal/flagenv"
)

// runExportOPML implements `fetcher export-opml`: it reads a feed list (YAML
// or OPML) and writes it as OPML 2.0 to stdout or to -o FILE. It returns the
// process exit code: 0 on success, 1 on a read or write error, 2 on bad usage.
func runExportOPML(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export-opml", flag.ContinueOnError)
	var feedsPath, out, title string
	flagenv.String(fs, &feedsPath, "feeds", "", "feed list to export, YAML or OPML")
	fs.StringVar(&out, "o", "", "output file (default standard output)")
	fs.StringVar(&title, "title", "", "OPML title (default the list's own, or \"newsflow feeds\")")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fetcher export-opml -feeds FILE [-o OUT.opml] [-title TITLE]")
		fs.PrintDefaults()
	}
	required := func() error {
		if feedsPath == "" {
			return flagenv.Invalid("feeds", "", "a feed list file (YAML or OPML) is required")
		}
		return nil
	}
	if code, ok := flagenv.ParseArgs(fs, args, stderr, required); !ok {
		return code
	}
	l, err := feed.LoadList(feedsPath)
	if err != nil {
		fmt.Fprintf(stderr, "export-opml: %v\n", err)
		return 1
	}
	if title != "" {
		l.Title = title
	}
	w := stdout
	var f *os.File
	if out != "" {
		f, err = os.Create(out)
		if err != nil {
			fmt.Fprintf(stderr, "export-opml: %v\n", err)
			return 1
		}
		w = f
	}
	if err := feed.WriteOPML(w, l); err != nil {
		fmt.Fprintf(stderr, "export-opml: %v\n", err)
		if f != nil {
			f.Close()
		}
		return 1
	}
	if f != nil {
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "export-opml: close %s: %v\n", out, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "export-opml: wrote %d feeds\n", len(l.Feeds))
	return 0
}
