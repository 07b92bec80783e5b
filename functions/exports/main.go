// Command exports is the Lambda function that consumes the per-tier export
// queues: each message runs one export of one tenant's data into the export
// bucket (batch item failures report the messages to retry). It only wires
// dependencies at cold start and hands the handler to the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	cfg, s, log, err := wire.Load(context.Background(), "exports")
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(wire.NewExports(cfg, s, log).Handle)
}
