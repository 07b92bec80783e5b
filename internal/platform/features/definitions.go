package features

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/memo"
)

// Source lists the stored flag definitions (store.Catalog.ListFlags: one
// Query of the catalog's flag partition).
type Source interface {
	ListFlags(ctx context.Context) ([]Flag, error)
}

// Definitions are the flag definitions in force: the built-ins, each
// replaced by a stored definition of its name, and the other stored ones.
// The stored ones are read at most once per TTL per process (concurrent
// misses share one read); a failed read is not cached.
type Definitions struct {
	src   Source
	ttl   time.Duration
	now   func() time.Time
	cache *memo.Cache[string, map[string]Flag]
}

// NewDefinitions caches src's definitions for ttl. A nil src serves the
// built-ins alone.
func NewDefinitions(src Source, ttl time.Duration) *Definitions {
	return &Definitions{src: src, ttl: ttl, now: time.Now,
		cache: memo.New[string, map[string]Flag](1, memo.WithRefreshAhead(ttl/5))}
}

// All returns every definition in force, by name.
func (d *Definitions) All(ctx context.Context) (map[string]Flag, error) {
	if d == nil || d.src == nil {
		return merge(nil), nil
	}
	return d.cache.Get(ctx, "flags", func(ctx context.Context) (map[string]Flag, time.Time, error) {
		stored, err := d.src.ListFlags(ctx)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("flag definitions: %w", err)
		}
		return merge(stored), d.now().Add(d.ttl), nil
	})
}

// Sorted returns every definition in force, in name order.
func (d *Definitions) Sorted(ctx context.Context) ([]Flag, error) {
	all, err := d.All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Flag, 0, len(all))
	for _, f := range all {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns the definition of name in force.
func (d *Definitions) Get(ctx context.Context, name string) (Flag, bool, error) {
	all, err := d.All(ctx)
	if err != nil {
		return Flag{}, false, err
	}
	f, ok := all[name]
	return f, ok, nil
}

// Forget drops the cached definitions (after this process stored one).
func (d *Definitions) Forget() {
	if d != nil && d.cache != nil {
		d.cache.Forget("flags")
	}
}

func merge(stored []Flag) map[string]Flag {
	out := map[string]Flag{}
	for _, f := range Builtins() {
		out[f.Name] = f
	}
	for _, f := range stored {
		if ValidName(f.Name) && f.Kind.Valid() {
			out[f.Name] = f.normalized()
		}
	}
	return out
}
