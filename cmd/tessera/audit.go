package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const auditUsage = `Usage: tessera audit ID [--from T] [--to T] [--format table|json]

Prints tenant ID's audit trail, oldest first: every state-changing request of its users and of
the operators, and the background steps on it, from T (RFC 3339, inclusive) to T (exclusive).
Follows the pages to the end.

Talks to $TESSERA_API (or --api) with an operator's ID token from $TESSERA_TOKEN (or --token).
`

func runAudit(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	api := fs.String("api", os.Getenv("TESSERA_API"), "API base URL")
	token := fs.String("token", os.Getenv("TESSERA_TOKEN"), "operator ID token")
	from := fs.String("from", "", "entries at this RFC 3339 time or later")
	to := fs.String("to", "", "entries before this RFC 3339 time")
	format := fs.String("format", "table", "table or json")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprint(os.Stderr, auditUsage)
		return errors.New("audit: a tenant id is required")
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("audit: --format must be table or json, not %q", *format)
	}
	for _, t := range []string{*from, *to} {
		if _, err := time.Parse(time.RFC3339Nano, t); t != "" && err != nil {
			return fmt.Errorf("audit: %q is not an RFC 3339 time", t)
		}
	}
	c, err := operatorClient("audit", *api, *token)
	if err != nil {
		return err
	}
	entries, err := auditTrail(ctx, c, pos[0], *from, *to)
	if err != nil {
		return err
	}
	if *format == "json" {
		return printJSON(w, entries)
	}
	return printAuditTable(w, entries)
}

// auditTrail reads the whole trail of tenant id through
// GET /v1/tenants/{id}/audit, following nextCursor to the last page.
func auditTrail(ctx context.Context, c client, id, from, to string) ([]map[string]any, error) {
	entries := []map[string]any{}
	q := url.Values{"limit": {"100"}}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	for {
		out, err := c.do(ctx, "GET", "/v1/tenants/"+url.PathEscape(id)+"/audit?"+q.Encode(), nil, nil)
		if err != nil {
			return nil, err
		}
		page, _ := out.(map[string]any)
		items, _ := page["items"].([]any)
		for _, it := range items {
			if e, ok := it.(map[string]any); ok {
				entries = append(entries, e)
			}
		}
		next, _ := page["nextCursor"].(string)
		if next == "" {
			return entries, nil
		}
		if next == q.Get("cursor") {
			return nil, errors.New("audit: the API answered the same cursor twice")
		}
		q.Set("cursor", next)
	}
}

// auditColumns are the table's columns, each an entry's field.
var auditColumns = []string{"at", "actor", "actorKind", "action", "resource", "outcome", "requestId", "detail"}

func printAuditTable(w io.Writer, entries []map[string]any) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tACTOR\tKIND\tACTION\tRESOURCE\tOUTCOME\tREQUEST\tDETAIL")
	for _, e := range entries {
		cells := make([]string, len(auditColumns))
		for i, col := range auditColumns {
			v, _ := e[col].(string)
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(v)
			if cells[i] == "" {
				cells[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
