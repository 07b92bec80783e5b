// Command authorizer is the Lambda REQUEST authorizer of the tenant routes:
// it verifies the caller's ID token and returns the tenant's API key as the
// usageIdentifierKey (internal/app/authorizer). It only wires dependencies
// at cold start and hands the handler to the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	cfg, s, log, err := wire.Load(context.Background(), "authorizer")
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(wire.NewAuthorizer(cfg, s, log).Handle)
}
