// Command specgen writes Baton's OpenAPI document, openapi.json and
// openapi.yaml, to the directory given as its argument (default "."). It
// needs no database. `go generate ./api/` runs it.
package main

import (
	"fmt"
	"os"

	"github.com/baton-run/baton/api"
)

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := api.WriteSpec(dir); err != nil {
		fmt.Fprintln(os.Stderr, "specgen:", err)
		os.Exit(1)
	}
}
