// Command changefeed is the Lambda function that consumes the DynamoDB
// streams of the pooled table and of the dedicated tables: it appends each
// tenant's changes to that tenant's change log in the backup bucket, and
// reports partial batch failures so that the event source retries from the
// first change not logged. It only wires dependencies at cold start and
// hands the handler to the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	cfg, s, log, err := wire.Load(context.Background(), "changefeed")
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(wire.NewChangeFeed(cfg, s, log, os.Stdout).Handle)
}
