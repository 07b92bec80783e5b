// Command tenants is the Lambda function behind the operator's tenant
// management routes, and the scheduled outbox sweep. It only
// wires dependencies at cold start and hands the handler to the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	cfg, s, log, err := wire.Load(context.Background(), "tenants")
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(wire.NewTenants(cfg, s, log).Invoke)
}
