package wire

// Subjects. Every id placed in a subject has been checked by package ident,
// so none can carry '.', '*' or '>'.
const (
	SubjectCommandsAll = "commands.all"
	SubjectCommandsAny = "commands.>"
	SubjectResultsAny  = "results.>"
	SubjectEventsAny   = "events.>"
	SubjectAuditAny    = "audit.>"
	SubjectInvAny      = "inventory.>"
	SubjectHeartbeats  = "heartbeat.*"
	SubjectKillAny     = "kill.*"
)

func SubjectCommandsGroup(g string) string { return "commands.group." + g }
func SubjectCommandsPC(pc string) string   { return "commands.pc." + pc }
func SubjectResult(execID, pc string) string {
	return "results." + execID + "." + pc
}
func SubjectStarted(execID, pc string) string {
	return "events.started." + execID + "." + pc
}
func SubjectHeartbeat(pc string) string { return "heartbeat." + pc }
func SubjectInventory(pc string) string { return "inventory." + pc }
func SubjectKill(execID string) string  { return "kill." + execID }
func SubjectAudit(action string) string { return "audit." + action }

// Streams and buckets of SPEC §3.5.
const (
	StreamExec      = "EXEC"
	StreamResults   = "RESULTS"
	StreamEvents    = "EVENTS"
	StreamAudit     = "AUDIT"
	StreamInventory = "INVENTORY"

	BucketJobs        = "jobs"
	BucketSchedules   = "schedules"
	BucketAgentGroups = "agent_groups"
	BucketAgentConfig = "agent_config"
	BucketDispatch    = "scheduler_dispatch"
	BucketLease       = "scheduler_lease"
	BucketRollouts    = "rollouts"
)
