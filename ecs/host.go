package ecs

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// LocalHost describes the machine it runs on: /etc/machine-id, uname(2),
// /etc/os-release and the network interfaces, the same sources Elastic
// Agent and the Beats read. Facts it cannot read stay empty; it fails only
// when nothing identifies the host (no hostname).
func LocalHost() (Host, error) {
	var h Host
	name, err := os.Hostname()
	if err != nil {
		return h, fmt.Errorf("local host: %w", err)
	}
	h.Name, h.Hostname = strings.ToLower(name), name
	h.ID = readMachineID()

	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		h.Architecture = unix.ByteSliceToString(u.Machine[:])
		h.Kernel = unix.ByteSliceToString(u.Release[:])
		h.KernelVersion = unix.ByteSliceToString(u.Version[:])
	}
	for _, path := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if data, err := os.ReadFile(path); err == nil {
			applyOSRelease(&h, data)
			break
		}
	}
	if h.OSPlatform == "debian" {
		h.OSPointRelease = debianVersion("/etc/debian_version")
	}
	h.IPs, h.MACs = interfaceAddrs()
	h.Containerized = fileExists("/.dockerenv") || fileExists("/run/.containerenv")
	return h, nil
}

// debianVersion reads /etc/debian_version when it holds a release number
// ("12.11"); testing and sid hold a codename ("trixie/sid"), which Defend
// does not report as a version.
func debianVersion(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	v := strings.TrimSpace(string(b))
	if v == "" || v[0] < '0' || v[0] > '9' || strings.ContainsAny(v, "/ \n") {
		return ""
	}
	return v
}

func readMachineID() string {
	for _, path := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(path); err == nil {
			if id := strings.TrimSpace(string(b)); id != "" {
				return id
			}
		}
	}
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// applyOSRelease fills the OS fields from an os-release(5) file.
func applyOSRelease(h *Host, data []byte) {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		kv[k] = strings.Trim(v, `"'`)
	}
	h.OSName = kv["NAME"]
	h.OSVersion = kv["VERSION"]
	h.OSVersionID = kv["VERSION_ID"]
	h.OSPlatform = kv["ID"]
	h.OSCodename = kv["VERSION_CODENAME"]
	h.OSFamily = osFamily(kv["ID"], kv["ID_LIKE"])
}

// osFamily follows go-sysinfo (used by the Beats and Elastic Agent): the
// family is the first of ID and ID_LIKE that names a known family.
func osFamily(id, idLike string) string {
	known := map[string]string{
		"debian": "debian", "ubuntu": "debian",
		"rhel": "redhat", "fedora": "redhat", "centos": "redhat", "rocky": "redhat", "almalinux": "redhat", "amzn": "redhat",
		"suse": "suse", "sles": "suse", "opensuse": "suse",
		"arch": "arch", "archarm": "arch",
		"alpine": "alpine",
	}
	for _, cand := range append([]string{id}, strings.Fields(idLike)...) {
		if f, ok := known[cand]; ok {
			return f
		}
	}
	return ""
}

// interfaceAddrs lists every interface address and every hardware address
// (formatted AA-BB-CC-DD-EE-FF).
func interfaceAddrs() (ips, macs []string) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, nil
	}
	for _, ifc := range ifaces {
		if len(ifc.HardwareAddr) > 0 {
			macs = append(macs, strings.ToUpper(strings.ReplaceAll(ifc.HardwareAddr.String(), ":", "-")))
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ips = append(ips, n.IP.String())
			}
		}
	}
	return ips, macs
}
