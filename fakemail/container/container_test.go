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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dockercontainer "github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"

	"github.com/purpleharness/purpleharness/fakemail"
	"github.com/purpleharness/purpleharness/fakemail/mailtest"
	"github.com/purpleharness/purpleharness/prereq"
)

func startContainer(t *testing.T) *Servers {
	t.Helper()
	needDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var log bytes.Buffer
	s, err := Start(ctx, Options{Ephemeral: true, Log: &log, Binary: buildValidate(t)})
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
	if err != nil {
		if _, ok := prereq.As(err); ok {
			prereq.SkipOrFail(t, err)
		}
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
		t.Fatalf("no /proc/net/tcp: %v", err)
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
	needDocker(t)
	bin := buildValidate(t)
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

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildValidate builds validate once per test binary, as "go build" does
// by default (dynamically linked where cgo is on): the image takes it with
// its interpreter and libraries.
func buildValidate(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "container-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "validate")
		build := exec.Command("go", "build", "-o", builtBin, "./cmd/validate")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// moduleRoot finds the purpleharness module from the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/purpleharness/purpleharness\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no purpleharness source tree")
		}
		dir = parent
	}
}

// TestServeMailContainerSIGINT: "validate serve-mail --container" prints
// its addresses, serves, and on SIGINT exits 0 with the evidence on
// stdout and its container removed.
func TestServeMailContainerSIGINT(t *testing.T) {
	needDocker(t)
	bin := buildValidate(t)
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
	needDocker(t)
	bin := buildValidate(t)
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
	if _, ok := prereq.As(err); ok {
		prereq.SkipOrFail(t, err)
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
	needDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prereq.SkipOrFail(t, pingDocker(ctx))
	cli, err := dockerClient(ctx)
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

// TestDockerHostHonoured: a DOCKER_HOST whose daemon does not answer is
// the error, naming it (testcontainers alone would fall back to the
// default socket and use another daemon); one that answers is used.
func TestDockerHostHonoured(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no-docker.sock")
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	_, err := Start(context.Background(), Options{Ephemeral: true})
	if !errors.Is(err, ErrNoDocker) || !strings.Contains(err.Error(), "DOCKER_HOST=unix://"+sock) {
		t.Errorf("Start with DOCKER_HOST at no daemon: %v, want ErrNoDocker naming DOCKER_HOST", err)
	}
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		return
	}
	t.Setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
	if err := pingDocker(context.Background()); err != nil {
		t.Errorf("pingDocker with DOCKER_HOST at the local daemon: %v", err)
	}
}

// needDocker skips the test when no Docker daemon answers (fails under
// PURPLEHARNESS_REQUIRE=docker).
func needDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prereq.SkipOrFail(t, pingDocker(ctx))
}

// TestRemoveOwnedByTakesBuildDir: a run killed while its image builds has
// left only its build directory; RemoveOwnedBy removes it (Docker or not)
// and leaves another owner's.
func TestRemoveOwnedByTakesBuildDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	mine := filepath.Join(tmp, "purpleharness-999999-4242-1-mail")
	other := filepath.Join(tmp, "purpleharness-999998-4242-1-mail")
	for _, d := range []string{mine, other} {
		if err := os.MkdirAll(filepath.Join(d, "rootfs"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	removed, _ := RemoveOwnedBy(t.Context(), 999999, "4242")
	if _, err := os.Stat(mine); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the owner's build directory is still there (%v)", err)
	}
	if !slices.Contains(removed, "temp dir "+mine) {
		t.Errorf("RemoveOwnedBy reported %q, want it to name %s", removed, mine)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another owner's build directory was removed: %v", err)
	}
}
