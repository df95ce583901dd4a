package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/newsflow/newsflow/internal/enrich/topics"
)

// runTaxonomy implements
//
//	enricher taxonomy --print [--taxonomy FILE --taxonomy-mode M]
//	enricher taxonomy --check FILE [--taxonomy-mode M]
//
// --print writes the effective taxonomy (the default, extended or replaced by
// --taxonomy) as YAML to stdout. --check validates FILE as --taxonomy would
// load it and reports the number of topics. It returns the exit code: 0 on
// success, 1 when the taxonomy is invalid, 2 on a usage error.
func runTaxonomy(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("enricher taxonomy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	print := fs.Bool("print", false, "print the effective taxonomy as YAML")
	check := fs.String("check", "", "validate this taxonomy `FILE` and exit")
	path := fs.String("taxonomy", "", "taxonomy YAML `FILE` that extends or replaces the default")
	mode := fs.String("taxonomy-mode", "extend", "extend or replace the default taxonomy")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: enricher taxonomy --print [--taxonomy FILE] [--taxonomy-mode extend|replace]")
		fmt.Fprintln(stderr, "       enricher taxonomy --check FILE [--taxonomy-mode extend|replace]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "enricher taxonomy: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *print == (*check != "") {
		fmt.Fprintln(stderr, "enricher taxonomy: give exactly one of --print or --check FILE")
		fs.Usage()
		return 2
	}
	if *mode != "extend" && *mode != "replace" {
		fmt.Fprintf(stderr, "enricher taxonomy: invalid flag -taxonomy-mode %q: want extend or replace\n", *mode)
		return 2
	}
	file := *path
	if *check != "" {
		if *path != "" {
			fmt.Fprintln(stderr, "enricher taxonomy: --check FILE and --taxonomy are exclusive")
			return 2
		}
		file = *check
	}
	tax := topics.Default()
	if file != "" {
		var err error
		if tax, err = topics.Load(file, tax, *mode == "replace"); err != nil {
			fmt.Fprintln(stderr, "enricher taxonomy:", err)
			return 1
		}
	}
	if *check != "" {
		fmt.Fprintf(stdout, "%s: ok (%s mode): %d topics, threshold %g\n", file, *mode, len(tax.Topics), tax.Threshold)
		return 0
	}
	if err := tax.WriteYAML(stdout); err != nil {
		fmt.Fprintln(stderr, "enricher taxonomy:", err)
		return 1
	}
	return 0
}
