package changefeed

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/metering"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Tenants reads tenant records (a catalog.Cache).
type Tenants interface {
	Get(ctx context.Context, tenantID string) (catalog.Record, error)
}

// Credentials hands out a tenant's scoped credentials (access.Credentials).
type Credentials interface {
	ForTenant(ctx context.Context, tenantID string) (aws.CredentialsProvider, error)
}

// Objects is the part of the S3 client the feed writes with.
type Objects interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Change is one logged change: a line of a change-log object.
type Change struct {
	// Seq is the stream's sequence number of the change (decimal digits).
	Seq string `json:"seq"`
	// Table is the table the change happened in.
	Table string `json:"table"`
	// Time is the stream's approximate creation time of the change.
	Time time.Time `json:"time"`
	// Event is INSERT, MODIFY or REMOVE.
	Event string `json:"event"`
	// Keys, New and Old are the item's key and images, in DynamoDB JSON.
	Keys map[string]events.DynamoDBAttributeValue `json:"keys"`
	New  map[string]events.DynamoDBAttributeValue `json:"new,omitempty"`
	Old  map[string]events.DynamoDBAttributeValue `json:"old,omitempty"`
}

// PartitionKey is the attribute that carries the tenant prefix.
const PartitionKey = "pk"

// Prefix is where a tenant's change log begins in the backup bucket.
func Prefix(tenantID string) string { return tenantID + "/changes/" }

// MaxParallel bounds the tenants whose changes one batch writes at once.
const MaxParallel = 8

// Handler appends stream batches to the tenants' change logs.
type Handler struct {
	tenants Tenants
	creds   Credentials
	objects Objects
	bucket  string
	log     *slog.Logger
	metrics io.Writer
	stage   string
	now     func() time.Time
}

// Option configures a Handler.
type Option func(*Handler)

// WithMetrics writes the feed's EMF lines (lag, records) to w for stage.
func WithMetrics(w io.Writer, stage string) Option {
	return func(h *Handler) { h.metrics, h.stage = w, stage }
}

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// New returns a Handler that writes to bucket.
func New(tenants Tenants, creds Credentials, objects Objects, bucket string, log *slog.Logger, opts ...Option) *Handler {
	h := &Handler{tenants: tenants, creds: creds, objects: objects, bucket: bucket, log: log, now: time.Now}
	for _, o := range opts {
		o(h)
	}
	return h
}

// group is one tenant's records of a batch, in batch order.
type group struct {
	tenantID string
	table    string
	first    int // index in the batch of the group's first record
	changes  []Change
}

// Handle logs the batch's changes. Records whose partition key carries no
// tenant are skipped; records of tenants that are gone (not in the catalog,
// or offboarded: their keys are deleted) are dropped and logged. When a
// tenant's changes cannot be logged, the response names the earliest such
// record, and the event source retries the batch from it.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	groups, skipped := route(ev.Records)
	if skipped > 0 {
		h.log.WarnContext(ctx, "change feed: records without a tenant prefix skipped", "skipped", skipped)
	}
	failedAt := make([]bool, len(groups))
	var wg sync.WaitGroup
	sem := make(chan struct{}, MaxParallel)
	for i := range groups {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := h.append(ctx, groups[i]); err != nil {
				failedAt[i] = true
				h.log.ErrorContext(ctx, "change feed: append failed", "tenantId", groups[i].tenantID,
					"records", len(groups[i].changes), "error", err.Error())
			}
		}()
	}
	wg.Wait()

	first := -1
	for i, g := range groups {
		if failedAt[i] && (first < 0 || g.first < first) {
			first = g.first
		}
	}
	h.emit(ev.Records, groups, failedAt)
	if first < 0 {
		return events.DynamoDBEventResponse{}, nil
	}
	return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
		{ItemIdentifier: ev.Records[first].Change.SequenceNumber},
	}}, nil
}

// route splits records by tenant and table, keeping batch order within
// each group, and counts the records that name no tenant.
func route(records []events.DynamoDBEventRecord) (groups []group, skipped int) {
	index := map[[2]string]int{}
	for i, r := range records {
		id, ok := TenantOf(r.Change.Keys)
		if !ok {
			skipped++
			continue
		}
		table := TableOf(r.EventSourceArn)
		k := [2]string{id, table}
		gi, seen := index[k]
		if !seen {
			gi = len(groups)
			index[k] = gi
			groups = append(groups, group{tenantID: id, table: table, first: i})
		}
		groups[gi].changes = append(groups[gi].changes, Change{
			Seq: r.Change.SequenceNumber, Table: table, Time: r.Change.ApproximateCreationDateTime.UTC(),
			Event: r.EventName, Keys: r.Change.Keys, New: r.Change.NewImage, Old: r.Change.OldImage,
		})
	}
	return groups, skipped
}

// TenantOf is the tenant whose item keys is: the valid tenant id before the
// first '#' of its partition key.
func TenantOf(keys map[string]events.DynamoDBAttributeValue) (string, bool) {
	pk, ok := keys[PartitionKey]
	if !ok || pk.DataType() != events.DataTypeString {
		return "", false
	}
	id, _, found := strings.Cut(pk.String(), "#")
	if !found || !tenant.ValidID(id) {
		return "", false
	}
	return id, true
}

// TableOf is the table name in a stream ARN
// ("arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>").
func TableOf(streamARN string) string {
	_, rest, ok := strings.Cut(streamARN, ":table/")
	if !ok {
		return "unknown"
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// ErrGone marks changes of a tenant whose data can no longer be logged.
var ErrGone = errors.New("changefeed: tenant is gone")

// append writes g as one object of its tenant's change log, unless an
// object of the same records is there already.
func (h *Handler) append(ctx context.Context, g group) error {
	rec, err := h.tenants.Get(ctx, g.tenantID)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		h.log.WarnContext(ctx, "change feed: changes of a tenant not in the catalog dropped", "tenantId", g.tenantID, "records", len(g.changes))
		return nil
	case err != nil:
		return fmt.Errorf("tenant %s: %w", g.tenantID, err)
	case rec.Status == catalog.StatusOffboarding || rec.Status == catalog.StatusOffboarded:
		h.log.WarnContext(ctx, "change feed: changes of an offboarded tenant dropped", "tenantId", g.tenantID, "records", len(g.changes))
		return nil
	case rec.Placement.KeyARN == "":
		return fmt.Errorf("tenant %s has no key yet", g.tenantID)
	}
	creds, err := h.creds.ForTenant(ctx, g.tenantID)
	if err != nil {
		return fmt.Errorf("credentials for tenant %s: %w", g.tenantID, err)
	}
	body, err := Encode(g.changes)
	if err != nil {
		return err
	}
	key := ObjectKey(g.tenantID, g.table, g.changes)
	_, err = h.objects.PutObject(ctx, PutInput(rec, h.bucket, key, body), func(o *s3.Options) { o.Credentials = creds })
	if err != nil && !IsAlreadyThere(err) {
		return fmt.Errorf("put %s: %w", key, err)
	}
	// The group's markers are logged, and every earlier change of the
	// tenant's table with them: say so, where a restore or migration
	// waiting for one reads it with one request.
	for _, c := range g.changes {
		if id, ok := markerOf(g.tenantID, c); ok {
			mk := recovery.MarkerKey(g.tenantID, id)
			_, err := h.objects.PutObject(ctx, PutInput(rec, h.bucket, mk, []byte(`{"table":`+strconv.Quote(g.table)+`}`)), func(o *s3.Options) { o.Credentials = creds })
			if err != nil && !IsAlreadyThere(err) {
				return fmt.Errorf("put %s: %w", mk, err)
			}
		}
	}
	return nil
}

// markerOf returns the id of the feed marker c inserts, if it does.
func markerOf(tenantID string, c Change) (string, bool) {
	if c.Event != "INSERT" || c.Keys[PartitionKey].DataType() != events.DataTypeString || c.Keys[PartitionKey].String() != tenantID+"#"+recovery.FeedMarkerPartition {
		return "", false
	}
	sk, ok := c.Keys["sk"]
	if !ok || sk.DataType() != events.DataTypeString || sk.String() == "" {
		return "", false
	}
	return sk.String(), true
}

// PutInput is the write of a new object of rec's tenant to the backup
// bucket: only if absent, encrypted under the tenant's key with the
// tenant's encryption context, and tagged with the tenant's tier, which the
// bucket's lifecycle rules expire it by (plan.Limits.BackupRetentionDays).
// The change log and snapshots (internal/control/backup) are written so.
func PutInput(rec catalog.Record, bucket, key string, body []byte) *s3.PutObjectInput {
	return &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/x-ndjson"),
		IfNoneMatch:          aws.String("*"),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(rec.Placement.KeyARN),
		SSEKMSEncryptionContext: aws.String(access.ObjectEncryptionContext(rec.TenantID)),
		Tagging:                 aws.String(recovery.TierTag + "=" + string(rec.Tier)),
	}
}

// IsAlreadyThere reports whether a conditional put (If-None-Match) failed
// because the object exists: for the change log, a redelivery of records
// already logged.
func IsAlreadyThere(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict")
}

// seqWidth is the width sequence numbers are padded to in object keys, so
// that keys sort as the numbers do (DynamoDB's have up to 40 digits).
const seqWidth = 40

// ObjectKey names the object of changes (one tenant's, of one table, in
// stream order): the hour of the first change, then the table and the
// first and last sequence numbers. The same records always get the same key.
func ObjectKey(tenantID, table string, changes []Change) string {
	first, last := changes[0], changes[len(changes)-1]
	return Prefix(tenantID) + first.Time.UTC().Format("2006-01-02T15") + "/" + table + "-" +
		padSeq(first.Seq) + "-" + padSeq(last.Seq) + ".jsonl"
}

func padSeq(s string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(clean) < seqWidth {
		clean = strings.Repeat("0", seqWidth-len(clean)) + clean
	}
	return clean
}

// Encode renders changes as JSON lines.
func Encode(changes []Change) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, c := range changes {
		if err := enc.Encode(c); err != nil {
			return nil, fmt.Errorf("encode change %s: %w", c.Seq, err)
		}
	}
	return b.Bytes(), nil
}

// Decode reads the JSON lines of a change-log object.
func Decode(r io.Reader) ([]Change, error) {
	var out []Change
	dec := json.NewDecoder(r)
	for {
		var c Change
		err := dec.Decode(&c)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode change %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
}

// Dedupe sorts changes by table and sequence number and drops repeats (a
// retried partial batch logs some records twice).
func Dedupe(changes []Change) []Change {
	type keyed struct {
		table, seq string // seq padded, so that it sorts as the number does
		c          Change
	}
	ks := make([]keyed, len(changes))
	for i, c := range changes {
		ks[i] = keyed{c.Table, padSeq(c.Seq), c}
	}
	slices.SortStableFunc(ks, func(x, y keyed) int {
		return cmp.Or(cmp.Compare(x.table, y.table), cmp.Compare(x.seq, y.seq))
	})
	out := changes[:0]
	for i, k := range ks {
		if i > 0 && k.table == ks[i-1].table && k.seq == ks[i-1].seq {
			continue
		}
		out = append(out, k.c)
	}
	return out
}

// emit writes the batch's EMF line: the lag of each logged record (from
// its creation time to now) and the count of records logged.
func (h *Handler) emit(records []events.DynamoDBEventRecord, groups []group, failed []bool) {
	if h.metrics == nil || len(records) == 0 {
		return
	}
	now := h.now()
	var lags []int64
	for i, g := range groups {
		if failed[i] {
			continue
		}
		for _, c := range g.changes {
			lags = append(lags, max(0, now.Sub(c.Time).Milliseconds()))
		}
	}
	if len(lags) == 0 {
		return
	}
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  metering.Namespace,
				"Dimensions": [][]string{{"Stage"}},
				"Metrics": []any{
					map[string]string{"Name": "ChangeFeedLag", "Unit": "Milliseconds"},
					map[string]string{"Name": "ChangeFeedRecords", "Unit": "Count"},
				},
			}},
		},
		"Stage":             h.stage,
		"ChangeFeedLag":     lags,
		"ChangeFeedRecords": len(lags),
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	_, _ = h.metrics.Write(append(b, '\n'))
}
