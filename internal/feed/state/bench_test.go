package state

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSaveNewFeed measures the commit of a first poll: 60 new items.
func BenchmarkSaveNewFeed(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		c := Commit{Feed: Feed{URL: fmt.Sprintf("https://farm%d.example/rss", i), ETag: `"x"`, NextPoll: time.Now()}, Now: time.Now(), Retention: time.Hour, PerFeed: 5000}
		for j := range 60 {
			id := fmt.Sprintf("%032x", i*1000+j)
			c.Published = append(c.Published, Seen{ID: id, Hash: "0123456789abcdef01234567"})
			c.Present = append(c.Present, id)
		}
		if err := s.Save(ctx, c); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSaveNewFeedConcurrent is the same from 64 polls at once, as in a
// first cycle: group commit shares each transaction among them.
func BenchmarkSaveNewFeedConcurrent(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			c := Commit{Feed: Feed{URL: fmt.Sprintf("https://farm%d.example/rss", i), ETag: `"x"`, NextPoll: time.Now()}, Now: time.Now(), Retention: time.Hour, PerFeed: 5000}
			for j := range 60 {
				id := fmt.Sprintf("%032x", i*1000+j)
				c.Published = append(c.Published, Seen{ID: id, Hash: "0123456789abcdef01234567"})
				c.Present = append(c.Present, id)
			}
			if err := s.Save(ctx, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
