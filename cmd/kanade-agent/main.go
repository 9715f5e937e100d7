// Command kanade-agent is a slim build of `kanade agent` for endpoints: the
// same command, flags and `install`, linked without the server side
// (embedded broker, SQLite, dashboard, metrics), so the idle agent maps
// fewer pages of its binary. The all-in-one `kanade agent` keeps working.
package main

import (
	"os"

	_ "time/tzdata" // IANA zones for agent-side schedules on every platform

	"github.com/kanade-dev/kanade/internal/cli/agentcmd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(agentcmd.Main(os.Args[1:], version)) }
