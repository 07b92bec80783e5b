// Command tessera-openapi writes the API's OpenAPI document
// (internal/wire/openapi) to a file, or to stdout: `make openapi` refreshes
// api/openapi.json with it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tessera-saas/tessera/internal/wire/openapi"
)

func main() {
	out := flag.String("o", "", "file to write (default: stdout)")
	router := flag.Bool("router", false, "write the cell router API's document instead")
	flag.Parse()
	doc, err := openapi.Document()
	if *router {
		doc, err = openapi.RouterDocument()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tessera-openapi:", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(doc)
	} else {
		err = os.WriteFile(*out, doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tessera-openapi:", err)
		os.Exit(1)
	}
}
