package agentcmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
)

// serviceName is the systemd unit, launchd label suffix and Windows
// service name of the agent.
const serviceName = "kanade-agent"

// installOptions are what `kanade agent install` bakes into the service.
type installOptions struct {
	Binary   string
	Slim     bool // Binary is kanade-agent: its command line has no `agent` word
	NATSURL  string
	PCID     string
	DataDir  string
	Config   string
	UnitDir  string // where the unit or plist is written
	GOOS     string
	DryRun   bool
	AsRoot   bool
	Log      io.Writer
	runShell func(name string, args ...string) error
}

// agentArgs is the agent command line; only given values are passed, so
// the agent's own defaults (and its config file) stay in charge of the rest.
func (o installOptions) agentArgs() []string {
	var args []string
	if !o.Slim {
		args = append(args, "agent")
	}
	for _, kv := range [][2]string{{"--nats-url", o.NATSURL}, {"--pc-id", o.PCID}, {"--data-dir", o.DataDir}, {"--config", o.Config}} {
		if kv[1] != "" {
			args = append(args, kv[0]+"="+kv[1])
		}
	}
	return args
}

var systemdTmpl = template.Must(template.New("unit").Parse(`[Unit]
Description=kanade endpoint agent
Documentation=https://github.com/kanade-dev/kanade
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart={{.ExecStart}}
Restart=always
RestartSec=5
# The agent keeps retrying the broker itself; systemd only restarts it
# after a crash. SIGTERM lets running commands finish (shutdown grace).
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
`))

// systemdUnit renders the unit file.
func systemdUnit(o installOptions) string {
	words := append([]string{o.Binary}, o.agentArgs()...)
	for i, w := range words {
		words[i] = systemdQuote(w)
	}
	var b bytes.Buffer
	_ = systemdTmpl.Execute(&b, map[string]string{"ExecStart": strings.Join(words, " ")})
	return b.String()
}

// systemdQuote quotes a word for ExecStart when it needs it.
func systemdQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\$%;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
}

var launchdTmpl = template.Must(template.New("plist").Parse(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{{.Label}}</string>
	<key>ProgramArguments</key>
	<array>
{{- range .Args}}
		<string>{{.}}</string>
{{- end}}
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
	<key>StandardOutPath</key>
	<string>/var/log/kanade-agent.log</string>
	<key>StandardErrorPath</key>
	<string>/var/log/kanade-agent.log</string>
</dict>
</plist>
`))

const launchdLabel = "dev.kanade.agent"

// launchdPlist renders the plist; text/template does not escape XML, so
// arguments are escaped here.
func launchdPlist(o installOptions) string {
	args := append([]string{o.Binary}, o.agentArgs()...)
	for i, a := range args {
		var b bytes.Buffer
		_ = xmlEscape(&b, a)
		args[i] = b.String()
	}
	var b bytes.Buffer
	_ = launchdTmpl.Execute(&b, map[string]any{"Label": launchdLabel, "Args": args})
	return b.String()
}

func xmlEscape(w io.Writer, s string) error {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	_, err := io.WriteString(w, r.Replace(s))
	return err
}

// scCreateArgs is the Windows service registration. sc.exe wants
// "option= value" as two words; binPath is one quoted command line.
func scCreateArgs(o installOptions) []string {
	words := []string{`"` + o.Binary + `"`}
	for _, a := range o.agentArgs() {
		if strings.ContainsAny(a, " \t") {
			a = `"` + a + `"`
		}
		words = append(words, a)
	}
	return []string{"create", serviceName, "binPath=", strings.Join(words, " "), "start=", "auto",
		"DisplayName=", "kanade endpoint agent"}
}

// install writes or registers the service for o.GOOS.
func install(o installOptions) error {
	switch o.GOOS {
	case "linux":
		return installFile(o, serviceName+".service", systemdUnit(o),
			[][]string{{"systemctl", "daemon-reload"}, {"systemctl", "enable", "--now", serviceName}})
	case "darwin":
		path := filepath.Join(o.UnitDir, launchdLabel+".plist")
		return installFile(o, launchdLabel+".plist", launchdPlist(o),
			[][]string{{"launchctl", "load", "-w", path}})
	case "windows":
		return runOrPrint(o, [][]string{append([]string{"sc.exe"}, scCreateArgs(o)...), {"sc.exe", "start", serviceName}})
	}
	return fmt.Errorf("service install: unsupported os %q", o.GOOS)
}

func installFile(o installOptions, name, text string, then [][]string) error {
	if err := os.MkdirAll(o.UnitDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", o.UnitDir, err)
	}
	path := filepath.Join(o.UnitDir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("write %s: %w (run as root, or use --unit-dir / --dry-run)", path, err)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(o.Log, "wrote %s\n", path)
	return runOrPrint(o, then)
}

// runOrPrint runs the activation commands as root; otherwise (or with
// --dry-run) it prints them for the operator.
func runOrPrint(o installOptions, cmds [][]string) error {
	if o.DryRun || !o.AsRoot {
		fmt.Fprintln(o.Log, "to enable and start the agent, run:")
		for _, c := range cmds {
			fmt.Fprintf(o.Log, "  %s\n", strings.Join(c, " "))
		}
		return nil
	}
	for _, c := range cmds {
		if err := o.runShell(c[0], c[1:]...); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(c, " "), err)
		}
	}
	return nil
}

func runCommand(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func defaultUnitDir(goos string) string {
	if goos == "darwin" {
		return "/Library/LaunchDaemons"
	}
	return "/etc/systemd/system"
}

// newInstallCmd is `install`; slim says the running executable is
// kanade-agent.
func newInstallCmd(slim bool) *cobra.Command {
	o := installOptions{GOOS: runtime.GOOS, runShell: runCommand}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the agent as a service (systemd unit, launchd plist or Windows service)",
		Long: "Writes a systemd unit (Linux) or a launchd plist (macOS), or registers a Windows service " +
			"with sc.exe. Run as root/administrator it also enables and starts the service; otherwise, " +
			"or with --dry-run, it prints the commands to do so. --dry-run writes into a temporary directory.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = cmd.OutOrStdout()
			o.AsRoot = isAdmin()
			if o.Binary == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("locate the kanade binary: %w (use --binary)", err)
				}
				o.Binary, o.Slim = exe, slim
			} else {
				// Another binary: kanade-agent by its name, else kanade.
				o.Slim = isSlim(o.Binary)
			}
			if o.UnitDir == "" {
				o.UnitDir = defaultUnitDir(o.GOOS)
			}
			if o.DryRun && o.GOOS != "windows" && !cmd.Flags().Changed("unit-dir") {
				dir, err := os.MkdirTemp("", "kanade-agent-install-")
				if err != nil {
					return fmt.Errorf("dry run dir: %w", err)
				}
				o.UnitDir = dir
			}
			return install(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.NATSURL, "nats-url", "", "broker URL(s) the service connects to")
	f.StringVar(&o.PCID, "pc-id", "", "this PC's id (default: the agent derives it from the host name)")
	f.StringVar(&o.DataDir, "data-dir", "", "agent data directory (default: the agent's default)")
	f.StringVar(&o.Config, "config", "", "agent config file the service reads")
	f.StringVar(&o.Binary, "binary", "", "path of the kanade or kanade-agent binary (default: this executable)")
	f.StringVar(&o.UnitDir, "unit-dir", "", "where the unit or plist is written (default /etc/systemd/system; macOS /Library/LaunchDaemons)")
	f.BoolVar(&o.DryRun, "dry-run", false, "write into a temporary directory and print the activation commands")
	// --os renders another platform's service (with --dry-run: look at a
	// plist from a Linux box) and lets tests pin the platform.
	f.StringVar(&o.GOOS, "os", runtime.GOOS, "platform to install for: linux, darwin or windows")
	_ = f.MarkHidden("os")
	return cmd
}

// isAdmin reports whether activation commands can be run directly. On
// Windows Geteuid is -1; sc.exe itself then reports a missing elevation.
func isAdmin() bool {
	if runtime.GOOS == "windows" {
		return true
	}
	return os.Geteuid() == 0
}
