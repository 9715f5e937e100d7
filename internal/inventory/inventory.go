// Package inventory collects the hardware and OS facts of SPEC §3.4
// (Inventory) with gopsutil. Every part is best effort: a part that fails
// on this platform or under this account is left out, never fatal, so an
// agent on an odd machine still reports what it can.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	gnet "github.com/shirou/gopsutil/v4/net"
)

// part adds one group of facts to out.
type part struct {
	name    string
	collect func(ctx context.Context, out map[string]any) error
}

var parts = []part{
	{"os", collectOS},
	{"cpu", collectCPU},
	{"memory", collectMemory},
	{"disks", collectDisks},
	{"network", collectNetwork},
	{"users", collectUsers},
}

// Collect gathers the facts. It returns an error only when no part at all
// could be read; the error then lists every part's failure.
func Collect(ctx context.Context) (map[string]any, error) {
	out := map[string]any{}
	var errs []error
	for _, p := range parts {
		if err := p.collect(ctx, out); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("collect inventory: %w", errors.Join(errs...))
	}
	return out, nil
}

func collectOS(ctx context.Context, out map[string]any) error {
	h, err := host.InfoWithContext(ctx)
	if err != nil {
		return err
	}
	out["hostname"] = h.Hostname
	out["os"] = map[string]any{
		"name":     h.OS,
		"platform": h.Platform,
		"family":   h.PlatformFamily,
		"version":  h.PlatformVersion,
		"kernel":   h.KernelVersion,
		"arch":     h.KernelArch,
	}
	out["uptime_secs"] = h.Uptime
	if h.BootTime > 0 {
		out["boot_time"] = time.Unix(int64(h.BootTime), 0).UTC()
	}
	if h.VirtualizationSystem != "" {
		out["virtualization"] = map[string]any{"system": h.VirtualizationSystem, "role": h.VirtualizationRole}
	}
	return nil
}

func collectCPU(ctx context.Context, out map[string]any) error {
	c := map[string]any{}
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		c["model"] = strings.TrimSpace(infos[0].ModelName)
		c["vendor"] = infos[0].VendorID
		c["mhz"] = infos[0].Mhz
	}
	if n, err := cpu.CountsWithContext(ctx, false); err == nil && n > 0 {
		c["cores"] = n
	}
	if n, err := cpu.CountsWithContext(ctx, true); err == nil && n > 0 {
		c["threads"] = n
	}
	if len(c) == 0 {
		return errors.New("no cpu facts readable")
	}
	out["cpu"] = c
	return nil
}

func collectMemory(ctx context.Context, out map[string]any) error {
	v, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return err
	}
	out["memory"] = map[string]any{"total_bytes": v.Total, "available_bytes": v.Available}
	return nil
}

// pseudoFS are file systems that hold no user data; listing them would
// bury the real disks under dozens of kernel mounts.
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "devtmpfs": true, "devpts": true, "tmpfs": true,
	"securityfs": true, "cgroup": true, "cgroup2": true, "pstore": true, "bpf": true,
	"debugfs": true, "tracefs": true, "configfs": true, "fusectl": true, "mqueue": true,
	"hugetlbfs": true, "autofs": true, "binfmt_misc": true, "efivarfs": true,
	"overlay": true, "squashfs": true, "nsfs": true, "rpc_pipefs": true, "ramfs": true,
	"devfs": true, "nullfs": true, "fdescfs": true, "selinuxfs": true, "fuse.gvfsd-fuse": true,
	"fuse.portal": true, "none": true,
}

func collectDisks(ctx context.Context, out map[string]any) error {
	ps, err := disk.PartitionsWithContext(ctx, false)
	if err != nil && len(ps) == 0 {
		return err
	}
	var disks []map[string]any
	seen := map[string]bool{}
	for _, p := range ps {
		if pseudoFS[p.Fstype] || seen[p.Mountpoint] {
			continue
		}
		seen[p.Mountpoint] = true
		u, err := disk.UsageWithContext(ctx, p.Mountpoint)
		if err != nil || u.Total == 0 {
			continue // unreadable or a zero-size stand-in
		}
		disks = append(disks, map[string]any{
			"mountpoint": p.Mountpoint, "device": p.Device, "fstype": p.Fstype,
			"size_bytes": u.Total, "free_bytes": u.Free,
		})
	}
	if len(disks) == 0 {
		return errors.New("no disks readable")
	}
	out["disks"] = disks
	return nil
}

func collectNetwork(ctx context.Context, out map[string]any) error {
	ifs, err := gnet.InterfacesWithContext(ctx)
	if err != nil {
		return err
	}
	var list []map[string]any
	for _, i := range ifs {
		if slices.Contains(i.Flags, "loopback") {
			continue
		}
		addrs := make([]string, 0, len(i.Addrs))
		for _, a := range i.Addrs {
			addrs = append(addrs, stripPrefix(a.Addr))
		}
		list = append(list, map[string]any{
			"name": i.Name, "mac": i.HardwareAddr, "addresses": addrs, "mtu": i.MTU,
			"up": slices.Contains(i.Flags, "up"),
		})
	}
	out["network"] = list
	return nil
}

// stripPrefix turns "192.0.2.7/24" into "192.0.2.7": operators search
// inventory by address, not by CIDR.
func stripPrefix(s string) string {
	if ip, _, err := net.ParseCIDR(s); err == nil {
		return ip.String()
	}
	return s
}

// collectUsers lists logged-in users; many platforms (and containers
// without utmp) have none to offer, which leaves the key out.
func collectUsers(ctx context.Context, out map[string]any) error {
	us, err := host.UsersWithContext(ctx)
	if err != nil {
		return err
	}
	var list []map[string]any
	for _, u := range us {
		e := map[string]any{"user": u.User, "terminal": u.Terminal}
		if u.Host != "" {
			e["host"] = u.Host
		}
		if u.Started > 0 {
			e["since"] = time.Unix(int64(u.Started), 0).UTC()
		}
		list = append(list, e)
	}
	out["users"] = list
	return nil
}
