// Command fleet is the Lambda function of fleet rollouts, which the CDK
// app's Step Functions state machine drives: it plans a target's waves
// and applies the target to one tenant per invocation (an item of the
// wave's Distributed Map). It only wires dependencies at cold start and
// hands the handler to the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	cfg, s, log, err := wire.Load(context.Background(), "fleet")
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	runner, err := wire.NewFleet(cfg, s, log, wire.FleetOptions{})
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(runner.Handle)
}
