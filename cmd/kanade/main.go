// Command kanade is the single binary of kanade: server, agent, dev and
// the operator CLI. All behaviour lives in internal/cli.
package main

import (
	"os"

	_ "time/tzdata" // IANA zones for schedules on every platform

	"github.com/kanade-dev/kanade/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
