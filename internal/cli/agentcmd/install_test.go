package agentcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemdUnit(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    installOptions
		want string
	}{
		{"all flags", installOptions{Binary: "/usr/local/bin/kanade", NATSURL: "nats://broker:4222", PCID: "pc-7", DataDir: "/var/lib/kanade-agent"},
			"ExecStart=/usr/local/bin/kanade agent --nats-url=nats://broker:4222 --pc-id=pc-7 --data-dir=/var/lib/kanade-agent\n"},
		{"defaults left to the agent", installOptions{Binary: "/usr/bin/kanade"},
			"ExecStart=/usr/bin/kanade agent\n"},
		{"quoting", installOptions{Binary: "/opt/my kanade/kanade", DataDir: "/srv/100%"},
			`ExecStart="/opt/my kanade/kanade" agent "--data-dir=/srv/100%%"` + "\n"},
	} {
		unit := systemdUnit(tc.o)
		if !strings.Contains(unit, tc.want) {
			t.Errorf("%s: unit lacks %q:\n%s", tc.name, tc.want, unit)
		}
		for _, must := range []string{"[Service]", "Restart=always", "WantedBy=multi-user.target", "After=network-online.target"} {
			if !strings.Contains(unit, must) {
				t.Errorf("%s: unit lacks %q", tc.name, must)
			}
		}
	}
}

func TestLaunchdPlist(t *testing.T) {
	p := launchdPlist(installOptions{Binary: "/usr/local/bin/kanade", NATSURL: "nats://a:4222,nats://b:4222", PCID: "mac&1"})
	want := `	<key>ProgramArguments</key>
	<array>
		<string>/usr/local/bin/kanade</string>
		<string>agent</string>
		<string>--nats-url=nats://a:4222,nats://b:4222</string>
		<string>--pc-id=mac&amp;1</string>
	</array>
`
	if !strings.Contains(p, want) {
		t.Fatalf("plist:\n%s\nwant it to contain:\n%s", p, want)
	}
	for _, must := range []string{"<string>dev.kanade.agent</string>", "<key>KeepAlive</key>", "<key>RunAtLoad</key>"} {
		if !strings.Contains(p, must) {
			t.Errorf("plist lacks %q", must)
		}
	}
}

func TestSCCreateArgs(t *testing.T) {
	got := scCreateArgs(installOptions{Binary: `C:\Program Files\kanade\kanade.exe`, NATSURL: "nats://b:4222", DataDir: `C:\ProgramData\kanade agent`})
	want := []string{"create", "kanade-agent", "binPath=",
		`"C:\Program Files\kanade\kanade.exe" agent --nats-url=nats://b:4222 "--data-dir=C:\ProgramData\kanade agent"`,
		"start=", "auto", "DisplayName=", "kanade endpoint agent"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sc args\n got %q\nwant %q", got, want)
	}
}

func TestInstallDryRunWritesTempDir(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		cmd := newInstallCmd(false)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs([]string{"--dry-run", "--os=" + goos, "--binary=/usr/bin/kanade", "--nats-url=nats://x:4222"})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%s: %v", goos, err)
		}
		path := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(out.String(), "\n", 2)[0], "wrote "))
		t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
		if !strings.HasPrefix(path, os.TempDir()) {
			t.Fatalf("%s: dry run wrote %q, not under the temp dir", goos, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "nats://x:4222") {
			t.Fatalf("%s: written file lacks the url:\n%s", goos, data)
		}
		if !strings.Contains(out.String(), "to enable and start the agent, run:") {
			t.Fatalf("%s: activation commands not printed:\n%s", goos, out.String())
		}
	}
}

func TestInstallRunsActivationAsRoot(t *testing.T) {
	var ran []string
	o := installOptions{GOOS: "linux", Binary: "/usr/bin/kanade", UnitDir: t.TempDir(), AsRoot: true, Log: &bytes.Buffer{},
		runShell: func(name string, args ...string) error {
			ran = append(ran, name+" "+strings.Join(args, " "))
			return nil
		}}
	if err := install(o); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ran, "; ") != "systemctl daemon-reload; systemctl enable --now kanade-agent" {
		t.Fatalf("ran %q", ran)
	}
	if _, err := os.Stat(filepath.Join(o.UnitDir, "kanade-agent.service")); err != nil {
		t.Fatal(err)
	}
}

// The service command line must run under the binary it names: kanade
// wants `agent` first, kanade-agent takes the flags directly.
func TestInstallCommandLineFitsTheBinary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		slim   bool // running binary
		binary string
		want   string
	}{
		{"kanade, itself", false, "", " agent --nats-url=nats://x:4222\n"},
		{"kanade-agent, itself", true, "", " --nats-url=nats://x:4222\n"},
		{"kanade names kanade-agent", false, "/usr/local/bin/kanade-agent", "ExecStart=/usr/local/bin/kanade-agent --nats-url=nats://x:4222\n"},
		{"kanade-agent names kanade", true, "/usr/bin/kanade", "ExecStart=/usr/bin/kanade agent --nats-url=nats://x:4222\n"},
	} {
		cmd := newInstallCmd(tc.slim)
		var out bytes.Buffer
		cmd.SetOut(&out)
		dir := t.TempDir()
		args := []string{"--os=linux", "--unit-dir=" + dir, "--dry-run", "--nats-url=nats://x:4222"}
		if tc.binary != "" {
			args = append(args, "--binary="+tc.binary)
		}
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "kanade-agent.service"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), tc.want) {
			t.Errorf("%s: unit lacks %q:\n%s", tc.name, tc.want, data)
		}
	}
	if !isSlim(`C:\Program Files\kanade\kanade-agent.exe`) || isSlim(`C:\Program Files\kanade\kanade.exe`) {
		t.Error("isSlim misreads Windows paths")
	}
}

// kanade-agent takes a command line written for `kanade agent` too.
func TestMainAcceptsTheAgentWord(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"agent", "--version"}, {"agent", "install", "--help"}} {
		if code := Main(args, "test"); code != 0 {
			t.Errorf("Main(%q) = %d", args, code)
		}
	}
	if code := Main([]string{"bogus"}, "test"); code == 0 {
		t.Error("Main accepted an unknown command")
	}
}
