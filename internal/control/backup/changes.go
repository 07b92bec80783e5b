package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tessera-saas/tessera/internal/control/changefeed"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// hourLayout is the change log's hour folder (changefeed.ObjectKey).
const hourLayout = "2006-01-02T15"

// Changes returns the tenant's logged changes whose times are in [from,
// to], once each, in order: by sequence number within a table, and tables
// (a tenant that moved between tables) merged by time. It reads the change
// log with the tenant's own credentials.
func (s *Service) Changes(ctx context.Context, tenantID string, from, to time.Time) ([]changefeed.Change, error) {
	var all []changefeed.Change
	err := s.changeObjects(ctx, tenantID, from, to, time.Time{}, func(cs []changefeed.Change) bool {
		for _, c := range cs {
			if !c.Time.Before(from) && !c.Time.After(to) {
				all = append(all, c)
			}
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	return inOrder(changefeed.Dedupe(all)), nil
}

// changeObjects calls fn with the changes of each change-log object of the
// tenant in the hour folders from from's hour (less one, for late
// batches) to to's, skipping objects last modified before modifiedSince;
// it stops early when fn returns true.
func (s *Service) changeObjects(ctx context.Context, tenantID string, from, to, modifiedSince time.Time, fn func([]changefeed.Change) bool) error {
	opts, err := s.objectOpts(ctx, tenantID)
	if err != nil {
		return err
	}
	prefix := changefeed.Prefix(tenantID)
	last := prefix + to.UTC().Format(hourLayout) + "/\xff"
	p := s3.NewListObjectsV2Paginator(s.d.Objects, &s3.ListObjectsV2Input{Bucket: aws.String(s.d.Bucket), Prefix: aws.String(prefix),
		StartAfter: aws.String(prefix + from.UTC().Add(-time.Hour).Format(hourLayout))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, opts)
		if err != nil {
			return fmt.Errorf("list change log of %s: %w", tenantID, err)
		}
		var keys []string
		done := false
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if key > last {
				done = true
				break
			}
			if !strings.HasSuffix(key, ".jsonl") || (!modifiedSince.IsZero() && aws.ToTime(o.LastModified).Before(modifiedSince)) {
				continue
			}
			keys = append(keys, key)
		}
		got, err := s.fetchChanges(ctx, keys, opts)
		if err != nil {
			return err
		}
		for _, key := range keys {
			if fn(got[key]) {
				return nil
			}
		}
		if done {
			return nil
		}
	}
	return nil
}

// fetchers bounds the change-log objects read at once.
const fetchers = 8

// fetchChanges returns the decoded changes of the objects at keys: those
// the service has read before from s.logged, the others read, fetchers at
// a time.
func (s *Service) fetchChanges(ctx context.Context, keys []string, opts func(*s3.Options)) (map[string][]changefeed.Change, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	out := make(map[string][]changefeed.Change, len(keys))
	sem := make(chan struct{}, fetchers)
	for _, key := range keys {
		if cs, ok := s.logged.get(key); ok {
			out[key] = cs
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			body, err := s.get(ctx, key, opts)
			var cs []changefeed.Change
			if err == nil {
				if cs, err = changefeed.Decode(bytes.NewReader(body)); err != nil {
					err = fmt.Errorf("change log object %s: %w", key, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[key] = cs
			s.logged.put(key, cs)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// changeCacheMax bounds the change-log objects a service keeps decoded.
const changeCacheMax = 4096

// changeCache holds decoded change-log objects by key (each key is under
// its tenant's prefix). When full it starts again empty.
type changeCache struct {
	mu      sync.Mutex
	objects map[string][]changefeed.Change
}

func (c *changeCache) get(key string) ([]changefeed.Change, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs, ok := c.objects[key]
	return cs, ok
}

func (c *changeCache) put(key string, cs []changefeed.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.objects) >= changeCacheMax {
		clear(c.objects)
	}
	c.objects[key] = cs
}

// placementSlack widens each table's time in a tenant's placement history
// on both sides: stream times may be rounded down to the second.
const placementSlack = time.Second

// Stay is a table that held a tenant's data from From to Until (zero:
// still does), as its migrations record it.
type Stay struct {
	Table       string
	From, Until time.Time
}

// Stays returns the tables that held the tenant in turn: its succeeded
// migrations (oldest first) hand it from one table to the next at their
// fence, and current is where it lives now.
func Stays(migrations []recovery.Job, current string) []Stay {
	moves := slices.Clone(migrations)
	moves = slices.DeleteFunc(moves, func(j recovery.Job) bool {
		return j.Kind != recovery.KindMigration || j.State != recovery.StateSucceeded || j.FencedAt.IsZero()
	})
	slices.SortFunc(moves, func(a, b recovery.Job) int { return a.FencedAt.Compare(b.FencedAt) })
	var out []Stay
	from := time.Time{}
	for _, m := range moves {
		out = append(out, Stay{Table: m.FromTable, From: from, Until: m.FencedAt})
		from = m.FencedAt
	}
	return append(out, Stay{Table: current, From: from})
}

// ofPlacement keeps the changes made in the table that held the tenant at
// the time (stays): not the copy a migration wrote into its target before
// the cutover, nor the deletion of an old copy after it, nor what a failed
// migration wrote and removed.
func ofPlacement(changes []changefeed.Change, stays []Stay) []changefeed.Change {
	return slices.DeleteFunc(changes, func(c changefeed.Change) bool {
		for _, st := range stays {
			if c.Table == st.Table && (st.From.IsZero() || !c.Time.Before(st.From.Add(-placementSlack))) &&
				(st.Until.IsZero() || c.Time.Before(st.Until.Add(placementSlack))) {
				return false
			}
		}
		return true
	})
}

// inOrder merges the per-table runs of deduplicated changes (sorted by
// table, then sequence number) by time: within a table the stream's order
// stands; between tables, the earlier head goes first.
func inOrder(cs []changefeed.Change) []changefeed.Change {
	var runs [][]changefeed.Change
	for i := 0; i < len(cs); {
		j := i
		for j < len(cs) && cs[j].Table == cs[i].Table {
			j++
		}
		runs = append(runs, cs[i:j])
		i = j
	}
	if len(runs) < 2 {
		return cs
	}
	out := make([]changefeed.Change, 0, len(cs))
	for {
		best := -1
		for r, run := range runs {
			if len(run) > 0 && (best < 0 || run[0].Time.Before(runs[best][0].Time)) {
				best = r
			}
		}
		if best < 0 {
			return out
		}
		out = append(out, runs[best][0])
		runs[best] = runs[best][1:]
	}
}

// Replay applies changes, in order, onto items: an insert or modify sets
// the item to its new image, a remove deletes it. Only changes of the
// tenant's own partitions in keep are applied; it returns how many were.
func Replay(items Items, tenantID string, keep []string, changes []changefeed.Change) (int, error) {
	n := 0
	for _, c := range changes {
		k, err := FromStream(c.Keys)
		if err != nil {
			return n, fmt.Errorf("change %s: %w", c.Seq, err)
		}
		entity, ok := store.PartitionOf(tenantID, k)
		if !ok || !slices.Contains(keep, entity) {
			continue
		}
		ik, ok := keyOf(k)
		if !ok {
			return n, fmt.Errorf("change %s: keys without pk and sk", c.Seq)
		}
		switch c.Event {
		case "REMOVE":
			delete(items, ik)
		case "INSERT", "MODIFY":
			it, err := FromStream(c.New)
			if err != nil {
				return n, fmt.Errorf("change %s: %w", c.Seq, err)
			}
			if _, ok := keyOf(it); !ok {
				return n, fmt.Errorf("change %s (%s) has no new image", c.Seq, c.Event)
			}
			items[ik] = it
		default:
			return n, fmt.Errorf("change %s: unknown event %q", c.Seq, c.Event)
		}
		n++
	}
	return n, nil
}

// markerSkew is how much earlier than a catch-up's read an object holding
// a later change may say it was last modified:
// the difference between this process's clock and S3's. S3 lists an
// object as soon as its PUT returns, so an object not listed by a read was
// written after it began.
const markerSkew = 2 * time.Second

// markerLogged reports whether the change feed has logged the tenant's
// marker item id, and so every change of its table before it: the feed
// writes recovery.MarkerKey once it has. One read of the tenant's own.
func (s *Service) markerLogged(ctx context.Context, tenantID, id string) (bool, error) {
	opts, err := s.objectOpts(ctx, tenantID)
	if err != nil {
		return false, err
	}
	_, err = s.get(ctx, recovery.MarkerKey(tenantID, id), opts)
	if isNoSuchKey(err) {
		return false, nil
	}
	return err == nil, err
}
