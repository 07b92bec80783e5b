package emulator_test

import (
	"context"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// TestMotoServesDynamoDBStreams: on the moto engine a table's stream
// (NEW_AND_OLD_IMAGES) gives, through the DynamoDB Streams API, one record
// per write, in order, with keys, images, increasing sequence numbers and a
// creation time, and AFTER_SEQUENCE_NUMBER resumes after a record.
func TestMotoServesDynamoDBStreams(t *testing.T) {
	servesDynamoDBStreams(t, startMoto(t))
}

// TestLocalStackServesDynamoDBStreams: the same on LocalStack, whose
// dynamodbstreams service is moto's (the plugin's dynamodbstreams:moto
// provider), reading the streams of moto's DynamoDB inside it.
func TestLocalStackServesDynamoDBStreams(t *testing.T) {
	_, cfg := startLocalStack(t)
	servesDynamoDBStreams(t, cfg)
}

// servesDynamoDBStreams is the body of the engines' stream tests: what the
// tenant change feed's stream pump relies on (ListStreams, DescribeStream,
// GetShardIterator, GetRecords).
func servesDynamoDBStreams(t *testing.T, cfg aws.Config) {
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	streams := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.RetryMaxAttempts = 1 })
	table := "feed"
	s := func(v string) *ddbtypes.AttributeValueMemberS { return &ddbtypes.AttributeValueMemberS{Value: v} }
	n := func(v string) *ddbtypes.AttributeValueMemberN { return &ddbtypes.AttributeValueMemberN{Value: v} }
	createKeyTable(t, ddb, table, &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages})
	desc, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	streamARN := aws.ToString(desc.Table.LatestStreamArn)
	if streamARN == "" {
		t.Fatal("DescribeTable: no LatestStreamArn on a table created with a stream")
	}

	// An insert, an update and a delete of one item (a tenant's row).
	begin := time.Now()
	key := map[string]ddbtypes.AttributeValue{"pk": s("t-1#PRODUCT"), "sk": s("p-1")}
	// A binary attribute, as sealed fields are: its bytes must come back
	// as written.
	blob := &ddbtypes.AttributeValueMemberB{Value: []byte{2, 0, 1, 255, 'A'}}
	first := map[string]ddbtypes.AttributeValue{"pk": s("t-1#PRODUCT"), "sk": s("p-1"), "name": s("lamp"), "price": n("10"), "sealed": blob}
	second := map[string]ddbtypes.AttributeValue{"pk": s("t-1#PRODUCT"), "sk": s("p-1"), "name": s("lamp"), "price": n("12"), "sealed": blob}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: first}); err != nil {
		t.Fatal(err)
	}
	if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key,
		UpdateExpression: aws.String("SET price = :p"), ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": n("12")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key}); err != nil {
		t.Fatal(err)
	}
	end := time.Now()

	listed, err := streams.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("ListStreams: %v", err)
	}
	if len(listed.Streams) != 1 || aws.ToString(listed.Streams[0].StreamArn) != streamARN || aws.ToString(listed.Streams[0].TableName) != table {
		t.Fatalf("ListStreams(%s) = %+v, want the one stream %s", table, listed.Streams, streamARN)
	}
	described, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamARN)})
	if err != nil {
		t.Fatalf("DescribeStream: %v", err)
	}
	d := described.StreamDescription
	if d.StreamStatus != dstypes.StreamStatusEnabled || d.StreamViewType != dstypes.StreamViewTypeNewAndOldImages ||
		aws.ToString(d.TableName) != table || len(d.KeySchema) != 2 || len(d.Shards) == 0 {
		t.Fatalf("DescribeStream = status %s, view %s, table %s, %d key elements, %d shards; want ENABLED NEW_AND_OLD_IMAGES %s, 2, at least 1",
			d.StreamStatus, d.StreamViewType, aws.ToString(d.TableName), len(d.KeySchema), len(d.Shards), table)
	}
	// One item's records are in one shard; the emulators have one per table.
	shard := d.Shards[0].ShardId
	t.Logf("stream %s, %d shard(s), first %s", streamARN, len(d.Shards), aws.ToString(shard))

	// read returns the records from iterator on, at most want of them, with
	// the iterator that follows (AWS may answer empty batches first).
	read := func(iterator *string, want int) ([]dstypes.Record, *string) {
		t.Helper()
		var got []dstypes.Record
		for range 10 {
			if iterator == nil || len(got) >= want {
				break
			}
			out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iterator})
			if err != nil {
				t.Fatalf("GetRecords: %v", err)
			}
			got = append(got, out.Records...)
			iterator = out.NextShardIterator
		}
		return got, iterator
	}
	iterator := func(typ dstypes.ShardIteratorType, seq *string) *string {
		t.Helper()
		out, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamARN), ShardId: shard,
			ShardIteratorType: typ, SequenceNumber: seq})
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", typ, err)
		}
		if out.ShardIterator == nil {
			t.Fatalf("GetShardIterator %s: no iterator", typ)
		}
		return out.ShardIterator
	}

	records, next := read(iterator(dstypes.ShardIteratorTypeTrimHorizon, nil), 3)
	if len(records) != 3 {
		t.Fatalf("TRIM_HORIZON: %d records, want 3 (insert, update, delete)", len(records))
	}
	want := []struct {
		event    dstypes.OperationType
		old, new map[string]ddbtypes.AttributeValue
	}{
		{dstypes.OperationTypeInsert, nil, first},
		{dstypes.OperationTypeModify, first, second},
		{dstypes.OperationTypeRemove, second, nil},
	}
	var last *big.Int
	for i, r := range records {
		w := want[i]
		sr := r.Dynamodb
		if r.EventName != w.event || aws.ToString(r.EventSource) != "aws:dynamodb" || sr == nil {
			t.Fatalf("record %d: event %s from %s, stream record %v; want %s from aws:dynamodb", i, r.EventName, aws.ToString(r.EventSource), sr != nil, w.event)
		}
		t.Logf("record %d: %s, id %s, sequence number %s, created %v, region %s, %d bytes", i, r.EventName, aws.ToString(r.EventID),
			aws.ToString(sr.SequenceNumber), aws.ToTime(sr.ApproximateCreationDateTime), aws.ToString(r.AwsRegion), aws.ToInt64(sr.SizeBytes))
		if sr.StreamViewType != dstypes.StreamViewTypeNewAndOldImages {
			t.Errorf("record %d: view type %s", i, sr.StreamViewType)
		}
		if got := plain(t, sr.Keys); !reflect.DeepEqual(got, plain(t, toStreams(t, key))) {
			t.Errorf("record %d: keys %v, want %v", i, got, plain(t, toStreams(t, key)))
		}
		if got, exp := plain(t, sr.OldImage), plain(t, toStreams(t, w.old)); !reflect.DeepEqual(got, exp) {
			t.Errorf("record %d (%s): old image %v, want %v", i, w.event, got, exp)
		}
		if got, exp := plain(t, sr.NewImage), plain(t, toStreams(t, w.new)); !reflect.DeepEqual(got, exp) {
			t.Errorf("record %d (%s): new image %v, want %v", i, w.event, got, exp)
		}
		seq, ok := new(big.Int).SetString(aws.ToString(sr.SequenceNumber), 10)
		if !ok {
			t.Fatalf("record %d: sequence number %q is not a decimal number", i, aws.ToString(sr.SequenceNumber))
		}
		if last != nil && seq.Cmp(last) <= 0 {
			t.Errorf("record %d: sequence number %s not after %s", i, seq, last)
		}
		last = seq
		// AWS rounds the time down to the second (or the minute, in older
		// streams); clocks are the same machine's.
		if at := sr.ApproximateCreationDateTime; at == nil || at.Before(begin.Truncate(time.Minute)) || at.After(end.Add(time.Second)) {
			t.Errorf("record %d: ApproximateCreationDateTime %v, want between %v and %v", i, aws.ToTime(at), begin.Truncate(time.Minute), end)
		}
	}

	// A poller resumes after the last record it handled.
	after, _ := read(iterator(dstypes.ShardIteratorTypeAfterSequenceNumber, records[1].Dynamodb.SequenceNumber), 2)
	if len(after) != 1 || aws.ToString(after[0].EventID) != aws.ToString(records[2].EventID) ||
		aws.ToString(after[0].Dynamodb.SequenceNumber) != aws.ToString(records[2].Dynamodb.SequenceNumber) {
		t.Fatalf("AFTER_SEQUENCE_NUMBER %s: %d records %+v, want only the third (%s)", aws.ToString(records[1].Dynamodb.SequenceNumber),
			len(after), after, aws.ToString(records[2].EventID))
	}

	// And the iterator after the last record sees what is written later.
	if more, _ := read(next, 1); len(more) != 0 {
		t.Fatalf("after the last record: %d records, want none", len(more))
	}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: first}); err != nil {
		t.Fatal(err)
	}
	if more, _ := read(next, 1); len(more) != 1 || more[0].EventName != dstypes.OperationTypeInsert {
		t.Fatalf("the iterator after the last record, after a new put: %+v, want one INSERT", more)
	}
}

// toStreams converts an item of the DynamoDB client into the Streams
// client's attribute values (the same JSON; other Go types).
func toStreams(t *testing.T, item map[string]ddbtypes.AttributeValue) map[string]dstypes.AttributeValue {
	t.Helper()
	if item == nil {
		return nil
	}
	out := make(map[string]dstypes.AttributeValue, len(item))
	for k, v := range item {
		switch v := v.(type) {
		case *ddbtypes.AttributeValueMemberS:
			out[k] = &dstypes.AttributeValueMemberS{Value: v.Value}
		case *ddbtypes.AttributeValueMemberN:
			out[k] = &dstypes.AttributeValueMemberN{Value: v.Value}
		case *ddbtypes.AttributeValueMemberB:
			out[k] = &dstypes.AttributeValueMemberB{Value: v.Value}
		default:
			t.Fatalf("toStreams: attribute %s of type %T", k, v)
		}
	}
	return out
}

// plain turns a stream image into comparable strings ("S:lamp", "N:12");
// an absent image and an empty one are both nil.
func plain(t *testing.T, item map[string]dstypes.AttributeValue) map[string]string {
	t.Helper()
	if len(item) == 0 {
		return nil
	}
	out := make(map[string]string, len(item))
	for k, v := range item {
		switch v := v.(type) {
		case *dstypes.AttributeValueMemberS:
			out[k] = "S:" + v.Value
		case *dstypes.AttributeValueMemberN:
			out[k] = "N:" + v.Value
		case *dstypes.AttributeValueMemberB:
			out[k] = fmt.Sprintf("B:%x", v.Value)
		default:
			t.Fatalf("attribute %s of type %T", k, v)
		}
	}
	return out
}
