// Package feeds ships newsflow's bundled feed lists inside the binary.
package feeds

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WorldNews is the bundled OPML list of public world-news and defence feeds
// that `newsflow run` monitors when no --feeds is given.
//
//go:embed world-news.opml
var WorldNews []byte

// WriteWorldNews writes WorldNews to path unless a file is already there (a
// list the user may have edited), creating the folder as needed.
func WriteWorldNews(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bundled feed list: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("bundled feed list: %w", err)
	}
	if err := os.WriteFile(path, WorldNews, 0o644); err != nil {
		return fmt.Errorf("bundled feed list: %w", err)
	}
	return nil
}
