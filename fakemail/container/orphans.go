package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/purpleharness/purpleharness/prereq"
)

// Labels on every container Start creates. Without Ryuk nothing removes a
// container whose owner was SIGKILLed, and such a container would keep
// holding port 25 on the host; the owner labels let the next Start find
// and remove it.
const (
	labelRole      = "org.purpleharness.role"
	labelOwnerPID  = "org.purpleharness.owner-pid"
	labelOwnerTime = "org.purpleharness.owner-start" // /proc/PID/stat starttime, against PID reuse
	labelDir       = "org.purpleharness.dir"
	roleFakemail   = "fakemail"
)

func ownerLabels(dir string) map[string]string {
	pid := os.Getpid()
	return map[string]string{
		labelRole:      roleFakemail,
		labelOwnerPID:  strconv.Itoa(pid),
		labelOwnerTime: procStart(pid),
		labelDir:       dir,
	}
}

// procStart returns field 22 of /proc/PID/stat (start time in clock
// ticks since boot), "" if the process does not exist.
func procStart(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may contain spaces: split after ')'.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// pingDocker checks a daemon answers, so a missing Docker is ErrNoDocker
// (skip / exit 3) rather than a build error.
//
// testcontainers tries DOCKER_HOST first but, when that daemon does not
// answer, silently falls back to the default socket: a user who pointed
// DOCKER_HOST somewhere would get another daemon. A set DOCKER_HOST (with
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION) is checked
// here, and its failure is the error.
func pingDocker(ctx context.Context) error {
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		cli, err := client.New(client.FromEnv)
		if err != nil {
			return prereq.Errorf(prereq.Docker, "%w: DOCKER_HOST=%s: %v", ErrNoDocker, host, err)
		}
		_, err = cli.Ping(ctx, client.PingOptions{})
		cli.Close()
		if err != nil {
			return prereq.Errorf(prereq.Docker, "%w: DOCKER_HOST=%s: %v", ErrNoDocker, host, err)
		}
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return prereq.Errorf(prereq.Docker, "%w: %v", ErrNoDocker, err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return prereq.Errorf(prereq.Docker, "%w: %v", ErrNoDocker, err)
	}
	return nil
}

// removeOrphans removes fakemail containers (and their images and temp
// directories) whose owning process is gone. Containers of live owners,
// another harness running in parallel say, are left alone.
func removeOrphans(ctx context.Context) error {
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = removeWhere(ctx, cli, func(p int, s string) bool { return procStart(p) != s || s == "" })
	return err
}

// removeOrphan removes one orphan container, its image and its directory.
// Another harness starting at the same moment may find the same orphan:
// if it removed the container first (404) or is removing it now (409), it
// also takes the image and the directory, and that is no error here.
func removeOrphan(ctx context.Context, cli *testcontainers.DockerClient, c container.Summary) error {
	if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
		if cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
			return nil
		}
		return fmt.Errorf("remove orphan container %.12s: %w", c.ID, err)
	}
	cli.ImageRemove(ctx, c.ImageID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	if dir := c.Labels[labelDir]; strings.HasPrefix(filepath.Base(dir), "purpleharness-") && strings.HasSuffix(dir, "mail") {
		os.RemoveAll(dir)
	}
	return nil
}

// removeImage deletes the image we built for a run (see KeepImage in Start).
func removeImage(ctx context.Context, image string) error {
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = cli.ImageRemove(ctx, image, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	return err
}

// imageRepo names the images Start builds; their tag is ownerTag().
const imageRepo = "purpleharness-fakemail"

var tagSeq atomic.Int64

// ownerTag names an image or directory for this process, as the harness's
// sandbox names its state: purpleharness-<pid>-<start>-<n>, so a leftover
// is recognisable and its owner can be checked.
func ownerTag() string {
	pid := os.Getpid()
	return fmt.Sprintf("purpleharness-%d-%s-%d", pid, procStart(pid), tagSeq.Add(1))
}

// ownedTempDir creates a temporary directory named ownerTag()-purpose.
func ownedTempDir(purpose string) (string, error) {
	dir := filepath.Join(os.TempDir(), ownerTag()+"-"+purpose)
	return dir, os.Mkdir(dir, 0o700)
}

// tagOwner parses the owner out of a tag made by ownerTag.
func tagOwner(tag string) (pid int, start string, ok bool) {
	f := strings.Split(strings.TrimPrefix(tag, "purpleharness-"), "-")
	if len(f) < 3 || !strings.HasPrefix(tag, "purpleharness-") {
		return 0, "", false
	}
	pid, err := strconv.Atoi(f[0])
	return pid, f[1], err == nil && pid > 0
}

// RemoveOwnedBy removes the containers and images started by process pid
// (with /proc start time start), whether or not it is still alive: the
// run's reaper calls it once the run is dead. It returns what it removed.
func RemoveOwnedBy(ctx context.Context, pid int, start string) ([]string, error) {
	dead := func(p int, s string) bool { return p == pid && s == start }
	// The build directory exists before any container or image does: a
	// run killed while it builds has only that to leave.
	removed := removeDirsWhere(dead)
	cli, err := dockerClient(ctx)
	if err != nil {
		return removed, err
	}
	defer cli.Close()
	more, err := removeWhere(ctx, cli, dead)
	return append(removed, more...), err
}

// removeDirsWhere removes the temporary directories Start makes
// (ownedTempDir) whose owner matches dead, and returns what it removed.
func removeDirsWhere(dead func(pid int, start string) bool) []string {
	var removed []string
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "purpleharness-*-mail"))
	for _, dir := range dirs {
		pid, start, ok := tagOwner(strings.TrimSuffix(filepath.Base(dir), "-mail"))
		if !ok || !dead(pid, start) {
			continue
		}
		if err := os.RemoveAll(dir); err == nil {
			removed = append(removed, "temp dir "+dir)
		}
	}
	return removed
}

// RemoveOrphans removes the containers and images of runs whose process
// is dead, and the temporary directories named for them, and returns what
// it removed. Another run's live state is left alone.
func RemoveOrphans(ctx context.Context) ([]string, error) {
	if err := pingDocker(ctx); err != nil {
		return nil, nil
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	return removeWhere(ctx, cli, func(p int, s string) bool { return procStart(p) != s || s == "" })
}

// removeWhere removes our containers and images whose owner matches dead.
func removeWhere(ctx context.Context, cli *testcontainers.DockerClient, dead func(pid int, start string) bool) ([]string, error) {
	var removed []string
	var errs []error
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", labelRole+"="+roleFakemail)})
	if err != nil {
		return nil, err
	}
	for _, c := range list.Items {
		pid, err := strconv.Atoi(c.Labels[labelOwnerPID])
		if err != nil || !dead(pid, c.Labels[labelOwnerTime]) {
			continue
		}
		if err := removeOrphan(ctx, cli, c); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, fmt.Sprintf("container %.12s", c.ID))
	}
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", imageRepo)})
	if err != nil {
		return removed, errors.Join(append(errs, err)...)
	}
	for _, im := range imgs.Items {
		for _, ref := range im.RepoTags {
			_, tag, _ := strings.Cut(ref, ":")
			pid, start, ok := tagOwner(tag)
			if !ok || !dead(pid, start) {
				continue
			}
			if _, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove image %s: %w", ref, err))
				continue
			}
			removed = append(removed, "image "+ref)
		}
	}
	return removed, errors.Join(errs...)
}
