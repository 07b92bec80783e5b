// Command api is the Lambda function behind the tenant app routes. It only
// wires dependencies at cold start and hands the handler to the runtime.
//
// The usage ledger is written off the request path: a flusher runs beside
// the handler from the cold start (its timer runs only while Lambda lets the
// environment run), and the pending totals are written when Lambda shuts the
// environment down (SIGTERM, within wire.ShutdownFlushTimeout).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tessera-saas/tessera/internal/wire"
)

func main() {
	cfg, s, log, err := wire.Load(context.Background(), "api")
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	app := wire.NewAPI(cfg, s, log, os.Stdout)
	go app.RunUsageFlusher(context.Background())
	lambda.StartWithOptions(app.Handler.Handle, lambda.WithEnableSIGTERM(func() {
		if err := app.FlushUsageAtShutdown(); err != nil {
			log.Warn("usage ledger flush at shutdown failed; the counts are in the EMF lines only", "error", err.Error())
		}
	}))
}
