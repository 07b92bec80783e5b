package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
)

func TestEngineFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env, want string
		ok        bool
	}{{"", emulator.Moto, true}, {"moto", emulator.Moto, true}, {"localstack", emulator.LocalStack, true}, {"LocalStack", "", false}, {"docker", "", false}} {
		t.Setenv(emulator.EngineEnv, tc.env)
		got, err := emulator.EngineFromEnv()
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("%s=%q: %q, %v; want %q, ok %v", emulator.EngineEnv, tc.env, got, err, tc.want, tc.ok)
		}
	}
	t.Setenv(emulator.EngineEnv, "nonsense")
	if _, err := emulator.Start(context.Background(), emulator.Options{}); err == nil || !strings.Contains(err.Error(), emulator.EngineEnv) {
		t.Fatalf("Start with %s=nonsense: %v, want an error naming the variable", emulator.EngineEnv, err)
	}
}

var (
	lsOnce  sync.Once
	lsStack *emulator.Stack
	lsErr   error
	lsTook  time.Duration
)

func TestMain(m *testing.M) {
	code := m.Run()
	if lsStack != nil {
		lsStack.Stop()
	}
	os.Exit(code)
}

// startLocalStack returns the package's LocalStack stack, started on first
// use; not installed, the test skips, except in CI.
func startLocalStack(t *testing.T) (*emulator.Stack, aws.Config) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	lsOnce.Do(func() {
		begin := time.Now()
		lsStack, lsErr = emulator.Start(context.Background(), emulator.Options{Engine: emulator.LocalStack})
		lsTook = time.Since(begin)
	})
	if errors.Is(lsErr, emulator.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skipf("SKIPPING: %v", lsErr)
	}
	if lsErr != nil {
		t.Fatal(lsErr)
	}
	t.Logf("LocalStack answered %v after its start", lsTook.Round(time.Millisecond))
	cfg := aws.Config{Region: emulator.Region, BaseEndpoint: aws.String(lsStack.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKey, emulator.SecretKey, ""),
		HTTPClient:  awsconfig.HTTPClient()}
	return lsStack, cfg
}

// TestLocalStackServesTheStack: LocalStack runs without Docker on a loopback
// port, with KMS of its own that honours key state, DynamoDB and Cognito
// user pools from moto inside it (JWKS where moto serves it), under the
// emulator's account.
func TestLocalStackServesTheStack(t *testing.T) {
	s, cfg := startLocalStack(t)
	ctx := context.Background()
	if s.Engine != emulator.LocalStack || s.KMSEndpoint != s.Endpoint || s.Env()["AWS_ACCESS_KEY_ID"] != emulator.Account {
		t.Fatalf("stack %+v, env %v", s, s.Env())
	}
	if ip := nonLoopbackIP(); ip != nil {
		port := s.Endpoint[strings.LastIndex(s.Endpoint, ":")+1:]
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), port), time.Second); err == nil {
			c.Close()
			t.Fatalf("LocalStack answers on %s:%s, want loopback only", ip, port)
		}
	}

	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(key.KeyMetadata.Arn), ":"+emulator.Account+":") {
		t.Fatalf("key %s, want one of account %s", aws.ToString(key.KeyMetadata.Arn), emulator.Account)
	}
	ec := map[string]string{"tenantId": "t-1"}
	dk, err := k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyMetadata.KeyId, KeySpec: kmstypes.DataKeySpecAes256, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: map[string]string{"tenantId": "t-2"}}); err == nil {
		t.Fatal("Decrypt with another encryption context succeeded")
	}
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	var disabled *kmstypes.DisabledException
	if _, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec}); !errors.As(err, &disabled) {
		t.Fatalf("Decrypt under a disabled key: %v, want DisabledException", err)
	}

	idp := cognitoidentityprovider.NewFromConfig(cfg)
	pool, err := idp.CreateUserPool(ctx, &cognitoidentityprovider.CreateUserPoolInput{PoolName: aws.String("p")})
	if err != nil {
		t.Fatalf("Cognito (moto inside LocalStack): %v", err)
	}
	resp, err := http.Get(s.Endpoint + "/" + aws.ToString(pool.UserPool.Id) + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"kid": "dummy"`) {
		t.Fatalf("JWKS: %d %s", resp.StatusCode, body)
	}
}

// TestLocalStackIsolatesDynamoDBWrites: DynamoDB applies each conditional
// write atomically. moto's DynamoDB does not under concurrent requests; the
// plugin serializes writes. Of many concurrent conditional puts of one new
// item exactly one succeeds, and of many updates conditioned on one version
// exactly one wins, in every round.
func TestLocalStackIsolatesDynamoDBWrites(t *testing.T) {
	_, cfg := startLocalStack(t)
	isolatesDynamoDBWrites(t, cfg)
}

// createHashTable creates an on-demand table keyed by pk (S) alone.
func createHashTable(t *testing.T, ddb *dynamodb.Client, table string) {
	t.Helper()
	if _, err := ddb.CreateTable(context.Background(), &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}}}); err != nil {
		t.Fatal(err)
	}
}

// createKeyTable creates a table keyed as Tessera's are (pk, sk), with
// stream when it is not nil.
func createKeyTable(t *testing.T, ddb *dynamodb.Client, table string, stream *ddbtypes.StreamSpecification) {
	t.Helper()
	if _, err := ddb.CreateTable(context.Background(), &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}},
		StreamSpecification: stream,
	}); err != nil {
		t.Fatal(err)
	}
}

// isolatesDynamoDBWrites is the body of the engines' write-isolation tests
// (this file's and moto_isolation_test.go's).
func isolatesDynamoDBWrites(t *testing.T, cfg aws.Config) {
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	table := "race"
	createHashTable(t, ddb, table)
	const writers, rounds = 20, 10
	race := func(f func(i int) error) (won int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := f(i)
				var failed *ddbtypes.ConditionalCheckFailedException
				switch {
				case err == nil:
					mu.Lock()
					won++
					mu.Unlock()
				case !errors.As(err, &failed):
					t.Errorf("writer %d: %v", i, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		return won
	}
	for round := range rounds {
		pk := &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint("item-", round)}
		created := race(func(i int) error {
			_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), ConditionExpression: aws.String("attribute_not_exists(pk)"),
				Item: map[string]ddbtypes.AttributeValue{"pk": pk, "version": &ddbtypes.AttributeValueMemberN{Value: "1"}, "writer": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(i)}}})
			return err
		})
		updated := race(func(i int) error {
			_, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"pk": pk},
				UpdateExpression: aws.String("SET version = :next, writer = :w"), ConditionExpression: aws.String("version = :v"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": &ddbtypes.AttributeValueMemberN{Value: "1"},
					":next": &ddbtypes.AttributeValueMemberN{Value: "2"}, ":w": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(i)}}})
			return err
		})
		// A transaction that claims a unique value (as a product claims its
		// SKU): moto copies the table for its rollback, which takes long.
		claimed := race(func(i int) error {
			put := func(key string) ddbtypes.TransactWriteItem {
				return ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: aws.String(table), ConditionExpression: aws.String("attribute_not_exists(pk)"),
					Item: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: key}, "writer": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(i)}}}}
			}
			_, err := ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
				put(fmt.Sprintf("product-%d-%d", round, i)), put(fmt.Sprint("sku-", round))}})
			var canceled *ddbtypes.TransactionCanceledException
			if errors.As(err, &canceled) {
				return &ddbtypes.ConditionalCheckFailedException{}
			}
			return err
		})
		if created != 1 || updated != 1 || claimed != 1 {
			t.Fatalf("round %d: of %d concurrent writers, %d conditional puts of one new item, %d updates of one version and %d transactions claiming one key succeeded, want 1 each",
				round, writers, created, updated, claimed)
		}
	}
}

// TestLocalStackTransactionsRollBackAndHonourTokens: a cancelled
// transaction leaves every item it names as it was (the plugin snapshots
// those items instead of moto's whole-table copy), and a repeated
// ClientRequestToken answers the first success again without writing, or
// IdempotentParameterMismatchException for other items, as DynamoDB does.
func TestLocalStackTransactionsRollBackAndHonourTokens(t *testing.T) {
	_, cfg := startLocalStack(t)
	transactionsRollBackAndHonourTokens(t, cfg)
}

// transactionsRollBackAndHonourTokens is the body of the engines'
// transaction tests (this file's and moto_isolation_test.go's).
func transactionsRollBackAndHonourTokens(t *testing.T, cfg aws.Config) {
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	table := "txn"
	createHashTable(t, ddb, table)
	key := func(k string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: k}}
	}
	get := func(k string) map[string]ddbtypes.AttributeValue {
		out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(k), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
		Item: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "kept"}, "n": &ddbtypes.AttributeValueMemberN{Value: "1"}}}); err != nil {
		t.Fatal(err)
	}
	_, err := ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{TableName: aws.String(table), Item: key("new")}},
		{Update: &ddbtypes.Update{TableName: aws.String(table), Key: key("kept"), UpdateExpression: aws.String("SET n = :two"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":two": &ddbtypes.AttributeValueMemberN{Value: "2"}}}},
		{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String(table), Key: key("absent"), ConditionExpression: aws.String("attribute_exists(pk)")}},
	}})
	var canceled *ddbtypes.TransactionCanceledException
	if !errors.As(err, &canceled) {
		t.Fatalf("transaction with a failing check: %v, want TransactionCanceledException", err)
	}
	if get("new") != nil {
		t.Fatal("a cancelled transaction's Put is visible")
	}
	if n := get("kept")["n"].(*ddbtypes.AttributeValueMemberN).Value; n != "1" {
		t.Fatalf("a cancelled transaction's Update stayed: n = %s", n)
	}

	claim := func(token, k string) error {
		_, err := ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String(token), TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{TableName: aws.String(table), Item: key(k), ConditionExpression: aws.String("attribute_not_exists(pk)")}}}})
		return err
	}
	if err := claim("token-1", "claimed"); err != nil {
		t.Fatal(err)
	}
	if err := claim("token-1", "claimed"); err != nil {
		t.Fatalf("the same transaction with the same token again: %v, want the first success", err)
	}
	var mismatch *ddbtypes.IdempotentParameterMismatchException
	if err := claim("token-1", "other"); !errors.As(err, &mismatch) {
		t.Fatalf("other items under a used token: %v, want IdempotentParameterMismatchException", err)
	}
	if get("other") != nil {
		t.Fatal("a mismatched token wrote")
	}
	if err := claim("token-2", "claimed"); !errors.As(err, &canceled) {
		t.Fatalf("the same items under a new token: %v, want TransactionCanceledException", err)
	}
}

func nonLoopbackIP() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	return nil
}
