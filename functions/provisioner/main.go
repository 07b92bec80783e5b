// Command provisioner is the Lambda function that consumes the provisioning
// queue (onboarding and offboarding events, and its own delayed re-checks). It only
// wires dependencies at cold start and hands the handler to the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	cfg, s, log, err := wire.Load(context.Background(), "provisioner")
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(wire.NewProvisioner(cfg, s, log).Handle)
}
