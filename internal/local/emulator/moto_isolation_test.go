package emulator_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tessera-saas/tessera/internal/local/emulator"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
)

// startMoto starts a moto stack (tools/moto/serve.py and local-kms) for one
// test and stops it when the test ends; not installed, the test skips,
// except in CI.
func startMoto(t *testing.T) aws.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	s, err := emulator.Start(context.Background(), emulator.Options{Engine: emulator.Moto})
	if errors.Is(err, emulator.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skipf("SKIPPING: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return aws.Config{Region: emulator.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKey, emulator.SecretKey, ""),
		HTTPClient:  awsconfig.HTTPClient()}
}

// TestMotoIsolatesDynamoDBWrites: on the moto engine (tools/moto/serve.py),
// as on LocalStack, of many concurrent conditional writes of one item exactly
// one succeeds (both engines take the DynamoDB read set and the snapshot
// rollback from tools/moto/tessera_moto_isolation.py).
func TestMotoIsolatesDynamoDBWrites(t *testing.T) {
	isolatesDynamoDBWrites(t, startMoto(t))
}

// TestMotoTransactionsRollBackAndHonourTokens: on the moto engine a
// cancelled transaction leaves the items it names as they were, and a
// repeated ClientRequestToken replays the first success or answers
// IdempotentParameterMismatchException, as on LocalStack.
func TestMotoTransactionsRollBackAndHonourTokens(t *testing.T) {
	transactionsRollBackAndHonourTokens(t, startMoto(t))
}
