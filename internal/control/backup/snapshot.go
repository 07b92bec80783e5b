package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tessera-saas/tessera/internal/control/changefeed"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// objectOpts makes an S3 call with the tenant's scoped credentials.
func (s *Service) objectOpts(ctx context.Context, tenantID string) (func(*s3.Options), error) {
	creds, err := s.d.Creds.ForTenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("credentials for tenant %s: %w", tenantID, err)
	}
	return func(o *s3.Options) { o.Credentials = creds }, nil
}

// TakeSnapshot writes a snapshot of every item of rec's tenant under id and
// returns its manifest. It is idempotent: when the manifest of id exists,
// it returns that one and writes nothing. Parts are written first, the
// manifest last, so a snapshot interrupted midway has no manifest and is
// never listed nor restored from.
func (s *Service) TakeSnapshot(ctx context.Context, rec catalog.Record, id string, trigger recovery.Trigger) (recovery.Snapshot, error) {
	if m, err := s.manifest(ctx, rec.TenantID, id); err == nil {
		return m, nil
	} else if !errors.Is(err, errNoManifest) {
		return recovery.Snapshot{}, err
	}
	sc, err := scopeOf(rec)
	if err != nil {
		return recovery.Snapshot{}, err
	}
	opts, err := s.objectOpts(ctx, rec.TenantID)
	if err != nil {
		return recovery.Snapshot{}, err
	}
	started := s.d.Now().UTC()
	snap := recovery.Snapshot{ID: id, TenantID: rec.TenantID, Tier: string(rec.Tier), Trigger: trigger,
		Table: rec.Placement.Table, StartedAt: started, FeedFrom: started.Add(-FeedSkew)}
	all := Items{}
	var (
		buf   bytes.Buffer
		count int64
	)
	enc := json.NewEncoder(&buf)
	flush := func() error {
		if count == 0 {
			return nil
		}
		key := recovery.PartKey(rec.TenantID, id, len(snap.Parts))
		sum := sha256.Sum256(buf.Bytes())
		// A part of an earlier, interrupted run of this snapshot may be
		// there: overwrite it (the bucket keeps versions; no manifest names
		// the old one).
		in := changefeed.PutInput(rec, s.d.Bucket, key, buf.Bytes())
		in.IfNoneMatch = nil
		if _, err := s.d.Objects.PutObject(ctx, in, opts); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		snap.Parts = append(snap.Parts, recovery.Part{Key: key, Items: count, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(buf.Len())})
		snap.Bytes += int64(buf.Len())
		buf.Reset()
		count = 0
		return nil
	}
	err = s.d.Data.For(sc).ScanPartitions(ctx, store.DataPartitions, func(_ string, items []store.Item) error {
		for _, it := range items {
			line, err := ToStream(it)
			if err != nil {
				return err
			}
			if err := enc.Encode(line); err != nil {
				return fmt.Errorf("encode item: %w", err)
			}
			if err := all.Put(it); err != nil {
				return err
			}
			if count++; count >= int64(s.d.PartItems) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return recovery.Snapshot{}, fmt.Errorf("snapshot %s of tenant %s: %w", id, rec.TenantID, err)
	}
	sum := all.Summarize(rec.TenantID)
	snap.Items, snap.Checksum, snap.Partitions = sum.Items, sum.Checksum, sum.Partitions
	snap.CompletedAt = s.d.Now().UTC()
	body, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return recovery.Snapshot{}, fmt.Errorf("encode manifest: %w", err)
	}
	in := changefeed.PutInput(rec, s.d.Bucket, recovery.ManifestKey(rec.TenantID, id), body)
	in.ContentType = aws.String("application/json")
	_, err = s.d.Objects.PutObject(ctx, in, opts)
	if changefeed.IsAlreadyThere(err) {
		return s.manifest(ctx, rec.TenantID, id)
	}
	if err != nil {
		return recovery.Snapshot{}, fmt.Errorf("put manifest of snapshot %s: %w", id, err)
	}
	return snap, nil
}

var errNoManifest = errors.New("backup: snapshot has no manifest")

// manifest reads the manifest of snapshot id; errNoManifest when absent.
func (s *Service) manifest(ctx context.Context, tenantID, id string) (recovery.Snapshot, error) {
	opts, err := s.objectOpts(ctx, tenantID)
	if err != nil {
		return recovery.Snapshot{}, err
	}
	body, err := s.get(ctx, recovery.ManifestKey(tenantID, id), opts)
	if isNoSuchKey(err) {
		return recovery.Snapshot{}, errNoManifest
	}
	if err != nil {
		return recovery.Snapshot{}, err
	}
	var m recovery.Snapshot
	if err := json.Unmarshal(body, &m); err != nil {
		return recovery.Snapshot{}, fmt.Errorf("manifest of snapshot %s: %w", id, err)
	}
	if m.TenantID != tenantID || m.ID != id {
		return recovery.Snapshot{}, fmt.Errorf("manifest at %s names snapshot %s of tenant %s", recovery.ManifestKey(tenantID, id), m.ID, m.TenantID)
	}
	return m, nil
}

func (s *Service) get(ctx context.Context, key string, opts func(*s3.Options)) ([]byte, error) {
	out, err := s.d.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.d.Bucket), Key: aws.String(key)}, opts)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

func isNoSuchKey(err error) bool {
	var nsk *s3types.NoSuchKey
	return errors.As(err, &nsk)
}

// Snapshots lists the tenant's complete snapshots, oldest first, with the
// tenant's own credentials.
func (s *Service) Snapshots(ctx context.Context, tenantID string) ([]recovery.Snapshot, error) {
	if _, err := s.d.Catalog.GetTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	opts, err := s.objectOpts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var ids []string
	p := s3.NewListObjectsV2Paginator(s.d.Objects, &s3.ListObjectsV2Input{Bucket: aws.String(s.d.Bucket), Prefix: aws.String(recovery.SnapshotPrefix(tenantID))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list snapshots of %s: %w", tenantID, err)
		}
		for _, o := range page.Contents {
			rest, _ := strings.CutPrefix(aws.ToString(o.Key), recovery.SnapshotPrefix(tenantID))
			if id, ok := strings.CutSuffix(rest, "/manifest.json"); ok && recovery.ValidSnapshotID(id) {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	out := make([]recovery.Snapshot, 0, len(ids))
	for _, id := range ids {
		m, err := s.manifest(ctx, tenantID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// snapshotBefore returns the newest snapshot completed at or before t;
// recovery.ErrNoSnapshot when there is none.
func (s *Service) snapshotBefore(ctx context.Context, rec catalog.Record, t time.Time) (recovery.Snapshot, error) {
	snaps, err := s.Snapshots(ctx, rec.TenantID)
	if err != nil {
		return recovery.Snapshot{}, err
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		if !snaps[i].CompletedAt.After(t) {
			return snaps[i], nil
		}
	}
	return recovery.Snapshot{}, fmt.Errorf("tenant %s: %w", rec.TenantID, recovery.ErrNoSnapshot)
}

// ReadSnapshot reads a snapshot's items back, checking each part's
// checksum and item count and the whole snapshot's checksum.
func (s *Service) ReadSnapshot(ctx context.Context, snap recovery.Snapshot) (Items, error) {
	opts, err := s.objectOpts(ctx, snap.TenantID)
	if err != nil {
		return nil, err
	}
	all := Items{}
	for _, part := range snap.Parts {
		if !strings.HasPrefix(part.Key, recovery.SnapshotPrefix(snap.TenantID)+snap.ID+"/") {
			return nil, fmt.Errorf("snapshot %s names part %s outside it", snap.ID, part.Key)
		}
		body, err := s.get(ctx, part.Key, opts)
		if err != nil {
			return nil, err
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != part.SHA256 {
			return nil, fmt.Errorf("part %s of snapshot %s: checksum mismatch", part.Key, snap.ID)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		var n int64
		for {
			var line map[string]events.DynamoDBAttributeValue
			if err := dec.Decode(&line); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("part %s, item %d: %w", part.Key, n+1, err)
			}
			it, err := FromStream(line)
			if err != nil {
				return nil, fmt.Errorf("part %s, item %d: %w", part.Key, n+1, err)
			}
			if _, ok := store.PartitionOf(snap.TenantID, it); !ok {
				return nil, fmt.Errorf("part %s, item %d: %w", part.Key, n+1, store.ErrForeignItem)
			}
			if err := all.Put(it); err != nil {
				return nil, err
			}
			n++
		}
		if n != part.Items {
			return nil, fmt.Errorf("part %s of snapshot %s: %d items, manifest says %d", part.Key, snap.ID, n, part.Items)
		}
	}
	if sum := all.Summarize(snap.TenantID); sum.Checksum != snap.Checksum || sum.Items != snap.Items {
		return nil, fmt.Errorf("snapshot %s: items do not match the manifest's checksum", snap.ID)
	}
	return all, nil
}
