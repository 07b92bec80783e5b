// Command billing is the Lambda function of usage billing, which an hourly
// EventBridge schedule invokes: it samples each tenant's stored items once a
// UTC day and reports the ended hours of the usage ledger to Stripe as meter
// events, marking each (internal/control/billing). It only wires
// dependencies at cold start (no AWS call; the Stripe key is read at the
// first report) and hands the job to the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	cfg, s, log, err := wire.Load(context.Background(), "billing")
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(wire.NewBillingFromEnv(cfg, s, log).Handle)
}
