package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// ShellExecutor runs scripts with a real shell in their own process group.
type ShellExecutor struct {
	// WaitDelay bounds how long Wait lingers for output pipes that a
	// leftover background child keeps open after the shell exited or the
	// group was killed. Default 2s.
	WaitDelay time.Duration
	// LookPath resolves a shell binary; nil means exec.LookPath. Tests
	// use it to simulate a missing shell.
	LookPath func(file string) (string, error)
}

// shellSpec says how a named shell runs a script file.
type shellSpec struct {
	binary string
	ext    string
	args   func(file string) []string
}

func shellFor(name string) (shellSpec, bool) {
	plain := func(file string) []string { return []string{file} }
	ps := func(file string) []string {
		return []string{"-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", file}
	}
	switch name {
	case "sh":
		return shellSpec{binary: "sh", ext: ".sh", args: plain}, true
	case "bash":
		return shellSpec{binary: "bash", ext: ".sh", args: plain}, true
	case "pwsh":
		return shellSpec{binary: "pwsh", ext: ".ps1", args: ps}, true
	case "powershell":
		return shellSpec{binary: "powershell", ext: ".ps1", args: ps}, true
	case "cmd":
		return shellSpec{binary: "cmd", ext: ".cmd", args: func(file string) []string {
			return []string{"/C", file}
		}}, true
	}
	return shellSpec{}, false
}

func failed(code int, format string, args ...any) Outcome {
	return Outcome{ExitCode: code, Stderr: "kanade: " + fmt.Sprintf(format, args...) + "\n"}
}

// Execute implements Executor.
func (e *ShellExecutor) Execute(ctx context.Context, job Job) Outcome {
	spec, ok := shellFor(job.Shell)
	if !ok {
		return failed(ExitNotRun, "unsupported shell %q (want sh, bash, pwsh, powershell or cmd)", job.Shell)
	}
	lookPath := e.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	bin, err := lookPath(spec.binary)
	if err != nil {
		return failed(ExitNotRun, "shell %q is not available on this agent: %v", job.Shell, err)
	}
	file, err := writeScript(job, spec.ext)
	if err != nil {
		return failed(ExitNotRun, "write script: %v", err)
	}
	defer os.Remove(file)
	return e.run(ctx, job, bin, spec.args(file))
}

// writeScript puts the script in a private temp file; a file (rather than
// -c) keeps quoting, size limits and PowerShell's parser out of the way.
func writeScript(job Job, ext string) (string, error) {
	f, err := os.CreateTemp(job.ScratchDir, "run-*"+ext)
	if err != nil {
		return "", err
	}
	_, werr := f.WriteString(job.Script)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func (e *ShellExecutor) run(ctx context.Context, job Job, bin string, args []string) Outcome {
	runCtx, cancel := context.WithTimeout(ctx, job.Timeout)
	defer cancel()

	stdout, stderr := newHeadTail(job.OutputCap), newHeadTail(job.OutputCap)
	cmd := exec.CommandContext(runCtx, bin, args...)
	cmd.Dir = job.Cwd
	cmd.Env = mergeEnv(os.Environ(), job.Env)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Stdin = nil
	setProcGroup(cmd)
	// Killing the group (not just the shell) is what makes "sleep 60 &"
	// die with its parent; WaitDelay then guarantees Wait returns even if
	// some escaped child still holds the pipes.
	cmd.Cancel = func() error { return killTree(cmd) }
	cmd.WaitDelay = e.waitDelay()

	err := cmd.Run()
	out := Outcome{
		Stdout: stdout.String(), StdoutTruncated: stdout.Truncated(),
		Stderr: stderr.String(), StderrTruncated: stderr.Truncated(),
	}
	switch {
	case ctx.Err() != nil:
		out.Killed, out.ExitCode = true, ExitNoStatus
	case runCtx.Err() != nil:
		out.TimedOut, out.ExitCode = true, ExitNoStatus
	default:
		out.ExitCode = exitCode(cmd, err)
		if cmd.ProcessState == nil {
			out.Stderr += fmt.Sprintf("kanade: start %s: %v\n", bin, err)
		}
	}
	return out
}

func (e *ShellExecutor) waitDelay() time.Duration {
	if e.WaitDelay > 0 {
		return e.WaitDelay
	}
	return 2 * time.Second
}

// exitCode prefers the process's own status: ErrWaitDelay only means a
// leftover child held the pipes after the shell had already exited.
func exitCode(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState != nil {
		if code := cmd.ProcessState.ExitCode(); code >= 0 {
			return code
		}
		return ExitNoStatus
	}
	if err != nil {
		return exitWaitError
	}
	return 0
}

// mergeEnv overrides inherited variables with the job's own.
func mergeEnv(base []string, extra map[string]string) []string {
	if len(extra) == 0 {
		return base
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		if k, _, ok := cutEnv(kv); ok {
			if _, override := extra[k]; override {
				continue
			}
		}
		out = append(out, kv)
	}
	for k, v := range extra {
		out = append(out, k+"="+v)
	}
	return out
}

func cutEnv(kv string) (string, string, bool) {
	// Windows has entries like "=C:=C:\\"; the key is everything up to the
	// first '=' after position 0.
	for i := 1; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}
