// Command router is the Lambda function behind the cell router's API: it
// places new tenants in cells and forwards operator requests to each
// tenant's cell (internal/control/cellrouter). It only wires dependencies at
// cold start and hands the handler to the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	cfg, s, log, err := wire.Load(context.Background(), "router")
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	h, err := wire.NewRouter(cfg, s, log)
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
