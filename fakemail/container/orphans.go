package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
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
func pingDocker(ctx context.Context) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	return nil
}

// removeOrphans removes fakemail containers (and their images and temp
// directories) whose owning process is gone. Containers of live owners,
// another harness running in parallel say, are left alone.
func removeOrphans(ctx context.Context) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", labelRole+"="+roleFakemail)})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range list.Items {
		pid, err := strconv.Atoi(c.Labels[labelOwnerPID])
		if start := procStart(pid); err == nil && start != "" && start == c.Labels[labelOwnerTime] {
			continue // owner alive
		}
		errs = append(errs, removeOrphan(ctx, cli, c))
	}
	return errors.Join(errs...)
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
	if dir := c.Labels[labelDir]; strings.HasPrefix(filepath.Base(dir), "purpleharness-mail-") {
		os.RemoveAll(dir)
	}
	return nil
}

// removeImage deletes the image we built for a run (see KeepImage in Start).
func removeImage(ctx context.Context, image string) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = cli.ImageRemove(ctx, image, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	return err
}
