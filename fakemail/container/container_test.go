package container

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dockercontainer "github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"

	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/fakemail/mailtest"
)

func startContainer(t *testing.T) *Servers {
	t.Helper()
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no Docker daemon (/var/run/docker.sock)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var log bytes.Buffer
	s, err := Start(ctx, Options{Ephemeral: true, Log: &log})
	t.Cleanup(func() {
		if s == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		// Nothing left behind: no container, no image, no files.
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "id="+s.ContainerID()).Output()
		if len(bytes.TrimSpace(out)) != 0 {
			t.Errorf("containers left behind: %s", out)
		}
		if _, err := os.Stat(s.dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temp dir %s left behind", s.dir)
		}
	})
	if errors.Is(err, ErrNoDocker) {
		t.Skipf("Docker: %v", err)
	}
	if err != nil {
		t.Fatalf("Start: %v\n%s", err, log.String())
	}
	return s
}

// TestClientSuiteContainer runs the client suite the in-process servers
// pass (curl, nc, net/smtp, go-imap over every port and TLS mode) against
// the container, and checks the evidence arrives through the bind mount.
func TestClientSuiteContainer(t *testing.T) {
	s := startContainer(t)
	mailtest.Run(t, s)
	// After Shutdown the evidence stays readable and complete.
	n := len(s.Evidence())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := len(s.Evidence()); got != n || n == 0 {
		t.Errorf("after Shutdown %d sessions, before %d", got, n)
	}
}

// TestHostNetworkNoProxy checks the claim in the package doc: the
// listening socket is in the host's network namespace, held by the
// containerised validate process, and no docker-proxy serves it.
func TestHostNetworkNoProxy(t *testing.T) {
	s := startContainer(t)
	_, portStr, _ := net.SplitHostPort(s.Addr(fakemail.POP3))
	port, _ := strconv.Atoi(portStr)

	inode := listeningInode(t, port)
	if inode == "" {
		t.Fatalf("no LISTEN socket for port %d in the host's /proc/net/tcp", port)
	}
	owners := socketOwners(inode)
	if len(owners) == 0 {
		t.Fatalf("no process holds socket inode %s", inode)
	}
	for _, comm := range owners {
		if comm != "validate" {
			t.Errorf("listening socket held by %q, want only the containerised validate", comm)
		}
	}
	for _, comm := range allComms() {
		if comm == "docker-proxy" {
			out, _ := exec.Command("ps", "-eo", "pid,args").Output()
			if bytes.Contains(out, []byte("-host-port "+portStr)) {
				t.Errorf("a docker-proxy serves port %d", port)
			}
		}
	}

	// A host client connects straight to the server: the server's end
	// of the connection belongs to validate too.
	c, err := net.Dial("tcp", s.Addr(fakemail.POP3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("greeting %q %v", line, err)
	}
	local := c.LocalAddr().(*net.TCPAddr)
	peer := connInode(t, port, local.Port)
	if owners := socketOwners(peer); len(owners) != 1 || owners[0] != "validate" {
		t.Errorf("server end of our connection held by %v, want [validate]", owners)
	}
}

// listeningInode finds the inode of the socket listening on 127.0.0.1:port.
func listeningInode(t *testing.T, port int) string {
	return procTCP(t, func(local, remote string, state string) bool {
		return state == "0A" && strings.HasSuffix(local, fmt.Sprintf(":%04X", port))
	})
}

// connInode finds the server end of the connection from clientPort.
func connInode(t *testing.T, port, clientPort int) string {
	return procTCP(t, func(local, remote string, state string) bool {
		return state == "01" && strings.HasSuffix(local, fmt.Sprintf(":%04X", port)) &&
			strings.HasSuffix(remote, fmt.Sprintf(":%04X", clientPort))
	})
}

func procTCP(t *testing.T, match func(local, remote, state string) bool) string {
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && match(f[1], f[2], f[3]) {
			return f[9]
		}
	}
	return ""
}

// socketOwners returns the comm of every process with an fd on the inode.
func socketOwners(inode string) []string {
	var out []string
	target := "socket:[" + inode + "]"
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	seen := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && l == target {
			pid := strings.Split(fd, "/")[2]
			if seen[pid] {
				continue
			}
			seen[pid] = true
			comm, _ := os.ReadFile("/proc/" + pid + "/comm")
			out = append(out, strings.TrimSpace(string(comm)))
		}
	}
	return out
}

func allComms() []string {
	var out []string
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		b, _ := os.ReadFile(c)
		out = append(out, strings.TrimSpace(string(b)))
	}
	return out
}

// TestOrphanRemoved SIGKILLs a "validate serve-mail --container" (no
// cleanup can run) and checks the next Start's sweep removes the container
// it left, its image and its temp directory.
func TestOrphanRemoved(t *testing.T) {
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no Docker daemon (/var/run/docker.sock)")
	}
	bin := buildStatic(t)
	cmd := exec.Command(bin, "serve-mail", "--container", "--ephemeral")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	up := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "listening on") {
			up = true
			break
		}
	}
	if !up {
		t.Fatal("serve-mail --container never listened")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	listOwned := func() []string {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+labelOwnerPID+"="+strconv.Itoa(cmd.Process.Pid)).Output()
		return strings.Fields(string(out))
	}
	left := listOwned()
	if len(left) != 1 {
		t.Fatalf("after SIGKILL %d containers of pid %d, want the 1 orphan", len(left), cmd.Process.Pid)
	}
	image, _ := exec.Command("docker", "inspect", "-f", "{{.Image}}", left[0]).Output()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := removeOrphans(ctx); err != nil {
		t.Fatalf("removeOrphans: %v", err)
	}
	if left := listOwned(); len(left) != 0 {
		t.Errorf("orphan containers still there: %v", left)
	}
	if err := exec.Command("docker", "image", "inspect", strings.TrimSpace(string(image))).Run(); err == nil {
		t.Errorf("orphan image %s still there", image)
	}
}

func TestStartBadConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "mail.yaml")
	os.WriteFile(bad, []byte("limits:\n  idle_timeout: soon\n"), 0o644)
	_, err := Start(context.Background(), Options{ConfigFile: bad})
	var cerr *fakemail.ConfigError
	if !errors.As(err, &cerr) || err.Error() != bad+`:2:17: idle_timeout: want a positive duration like 60s, got "soon"` {
		t.Errorf("Start with bad config: %v, want a positioned ConfigError before any build", err)
	}
}

// buildStatic builds a static validate binary, the kind the image needs.
func buildStatic(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "validate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/validate")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServeMailContainerSIGINT: "validate serve-mail --container" prints
// its addresses, serves, and on SIGINT exits 0 with the evidence on
// stdout and its container removed.
func TestServeMailContainerSIGINT(t *testing.T) {
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no Docker daemon (/var/run/docker.sock)")
	}
	bin := buildStatic(t)
	cmd := exec.Command(bin, "serve-mail", "--container", "--ephemeral", "--evidence", "-")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	addrs := map[string]string{}
	sc := bufio.NewScanner(stderr)
	for len(addrs) < 7 && sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[1] == "listening" {
			addrs[f[0]] = f[3]
		}
	}
	if len(addrs) != 7 {
		t.Fatalf("printed %d addresses, want 7", len(addrs))
	}
	go func() {
		for sc.Scan() {
		}
	}()
	mailtest.Curl(t, mailtest.Mail, "smtp://"+addrs["smtp"], "--mail-from", "a@b.test",
		"--mail-rcpt", fakemail.DefaultAddress, "-T", "-")
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v, want 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve-mail --container did not exit after SIGINT")
	}
	sessions, err := fakemail.ReadNDJSON(&stdout, false)
	if err != nil || len(sessions) != 1 || sessions[0].Service != fakemail.SMTP {
		t.Errorf("evidence on stdout: %v %+v", err, sessions)
	}
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+labelOwnerPID+"="+strconv.Itoa(cmd.Process.Pid)).Output()
	if len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("container left after SIGINT: %s", out)
	}
}

// TestStartFailureRemovesImage: when a step after the image build fails,
// testcontainers returns no container; the image built for the run must
// still go (it is built with KeepImage, so nothing else removes it).
func TestStartFailureRemovesImage(t *testing.T) {
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no Docker daemon (/var/run/docker.sock)")
	}
	bin := buildStatic(t)
	var image string
	failAfterBuild := testcontainers.WithAdditionalLifecycleHooks(testcontainers.ContainerLifecycleHooks{
		PostBuilds: []testcontainers.ContainerRequestHook{func(_ context.Context, req testcontainers.ContainerRequest) error {
			image = req.Image
			return errors.New("injected failure after the build")
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := start(ctx, Options{Ephemeral: true, Binary: bin}, failAfterBuild)
	if errors.Is(err, ErrNoDocker) {
		t.Skipf("Docker: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		if s != nil {
			s.Shutdown(context.Background())
		}
		t.Fatalf("start with a failing PostBuilds hook: %v, want the injected failure", err)
	}
	if image == "" {
		t.Fatal("the hook never saw the built image")
	}
	if err := exec.Command("docker", "image", "inspect", image).Run(); err == nil {
		exec.Command("docker", "image", "rm", "-f", image).Run()
		t.Errorf("image %s left behind after a failed Start", image)
	}
}

// TestRemoveOrphanRemovedElsewhere: two harnesses starting at once find the
// same orphan; the one whose remove comes second gets "No such container"
// and must not report it (TestOrphanRemoved failed so when another
// package's Start ran at the same moment).
func TestRemoveOrphanRemovedElsewhere(t *testing.T) {
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no Docker daemon (/var/run/docker.sock)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pingDocker(ctx); err != nil {
		t.Skipf("Docker: %v", err)
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	gone := dockercontainer.Summary{ID: strings.Repeat("0", 64), ImageID: "sha256:" + strings.Repeat("0", 64),
		Labels: map[string]string{labelRole: roleFakemail, labelOwnerPID: "1"}}
	if err := removeOrphan(ctx, cli, gone); err != nil {
		t.Errorf("removeOrphan of a container already removed: %v, want nil", err)
	}
}
