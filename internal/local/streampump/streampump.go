package streampump

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Handler is a Lambda handler of DynamoDB stream batches that reports
// partial batch failures (ReportBatchItemFailures).
type Handler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// StreamsAPI is the part of the DynamoDB Streams API the pump uses;
// *dynamodbstreams.Client satisfies it.
type StreamsAPI interface {
	ListStreams(context.Context, *dynamodbstreams.ListStreamsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.ListStreamsOutput, error)
	DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Defaults, as Lambda's event source mapping for the change feed has them.
const (
	DefaultBatchSize = 100
	DefaultInterval  = 250 * time.Millisecond
)

// ErrNotDrained is returned by Drain when records were still arriving after
// its last round.
var ErrNotDrained = errors.New("streams not drained")

// Pump feeds the streams of some tables to one handler.
type Pump struct {
	c        StreamsAPI
	h        Handler
	log      *slog.Logger
	tables   func(table string) bool
	region   string
	batch    int32
	interval time.Duration

	mu     sync.Mutex
	shards map[string]*shard // by stream ARN + shard id
}

// shard is one shard's checkpoint: the last sequence number the handler
// accepted ("" before the first).
type shard struct {
	stream, id string
	after      string
}

// Option configures a Pump.
type Option func(*Pump)

// WithLogger sets the pump's logger.
func WithLogger(l *slog.Logger) Option { return func(p *Pump) { p.log = l } }

// WithInterval sets the pause between rounds of Run.
func WithInterval(d time.Duration) Option { return func(p *Pump) { p.interval = d } }

// WithBatchSize sets the most records per batch.
func WithBatchSize(n int32) Option { return func(p *Pump) { p.batch = n } }

// New returns a pump of the streams of the tables that match reports true
// for, calling h. region is put on the events, as Lambda does.
func New(c StreamsAPI, match func(table string) bool, region string, h Handler, opts ...Option) *Pump {
	p := &Pump{c: c, h: h, log: slog.New(slog.DiscardHandler), tables: match, region: region,
		batch: DefaultBatchSize, interval: DefaultInterval, shards: map[string]*shard{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Run pumps until ctx ends. Errors are logged and the round retried.
func (p *Pump) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if _, err := p.Round(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "stream pump round failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
		case <-time.After(p.interval):
		}
	}
}

// Drain runs rounds until one hands no records to the handler, or rounds
// runs out (ErrNotDrained). It returns the records the handler accepted.
func (p *Pump) Drain(ctx context.Context, rounds int) (int, error) {
	total := 0
	for range rounds {
		n, err := p.Round(ctx)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
	}
	return total, ErrNotDrained
}

// Round reads every shard of every matching stream once and hands what it
// finds to the handler, batch by batch. It returns the records the handler
// accepted; a batch the handler failed, in whole or in part, ends the
// shard's round (to be retried next round) and is an error only when the
// handler itself returned one.
func (p *Pump) Round(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	streams, err := p.streams(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, arn := range streams {
		out, err := p.c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
		if err != nil {
			return total, fmt.Errorf("describe stream %s: %w", arn, err)
		}
		for _, s := range out.StreamDescription.Shards {
			n, err := p.shard(ctx, arn, aws.ToString(s.ShardId))
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// streams lists the ARNs of the matching tables' streams.
func (p *Pump) streams(ctx context.Context) ([]string, error) {
	var arns []string
	var start *string
	for {
		out, err := p.c.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{ExclusiveStartStreamArn: start})
		if err != nil {
			return nil, fmt.Errorf("list streams: %w", err)
		}
		for _, s := range out.Streams {
			if p.tables(aws.ToString(s.TableName)) {
				arns = append(arns, aws.ToString(s.StreamArn))
			}
		}
		if out.LastEvaluatedStreamArn == nil {
			return arns, nil
		}
		start = out.LastEvaluatedStreamArn
	}
}

// shard hands one shard's new records to the handler.
func (p *Pump) shard(ctx context.Context, stream, id string) (int, error) {
	key := stream + "|" + id
	sh := p.shards[key]
	if sh == nil {
		sh = &shard{stream: stream, id: id}
		p.shards[key] = sh
	}
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(stream), ShardId: aws.String(id),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	if sh.after != "" {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(sh.after)
	}
	it, err := p.c.GetShardIterator(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("shard iterator of %s: %w", id, err)
	}
	iter, total := it.ShardIterator, 0
	for iter != nil {
		out, err := p.c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(p.batch)})
		if err != nil {
			return total, fmt.Errorf("get records of %s: %w", id, err)
		}
		if len(out.Records) == 0 {
			return total, nil
		}
		ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, len(out.Records))}
		for i, r := range out.Records {
			ev.Records[i] = Record(r, stream, p.region)
		}
		accepted, err := p.handle(ctx, ev)
		total += accepted
		if accepted > 0 {
			sh.after = ev.Records[accepted-1].Change.SequenceNumber
		}
		if err != nil || accepted < len(ev.Records) {
			return total, err
		}
		iter = out.NextShardIterator
	}
	return total, nil
}

// handle calls the handler and returns how many records, from the start of
// the batch, it accepted: all, or those before the first failure it named.
func (p *Pump) handle(ctx context.Context, ev events.DynamoDBEvent) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("stream handler panicked: %v", r)
		}
	}()
	resp, err := p.h(ctx, ev)
	if err != nil {
		return 0, fmt.Errorf("stream handler: %w", err)
	}
	accepted := len(ev.Records)
	for _, f := range resp.BatchItemFailures {
		found := false
		for i, r := range ev.Records {
			if r.Change.SequenceNumber == f.ItemIdentifier {
				accepted, found = min(accepted, i), true
				break
			}
		}
		if !found { // Lambda fails the whole batch on an unknown identifier
			return 0, fmt.Errorf("stream handler named %q, not in the batch", f.ItemIdentifier)
		}
	}
	if accepted < len(ev.Records) {
		p.log.WarnContext(ctx, "stream batch partly failed; retrying from the first failure",
			"records", len(ev.Records), "accepted", accepted)
	}
	return accepted, nil
}

// TableMatcher matches the pooled table and the stage's dedicated tables
// (whose names begin with dedicatedPrefix).
func TableMatcher(pooled, dedicatedPrefix string) func(string) bool {
	return func(t string) bool {
		return t == pooled || (dedicatedPrefix != "" && strings.HasPrefix(t, dedicatedPrefix))
	}
}
