package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// containerInit runs as root in the container's fresh mount and UTS namespaces, already in the
// pod's network namespace: it builds the root, then becomes the container's process.
func containerInit() {
	// fd 3 tells the kubelet when the set-up is over: it closes on the exec of the workload.
	unix.CloseOnExec(3)
	cfg := readSpec()
	if err := setupRoot(cfg); err != nil {
		// Where the kubelet looks for the reason a container ended.
		_ = os.WriteFile(cfg.TerminationLog, []byte("container-init: "+err.Error()), 0o666)
		fmt.Fprintln(os.Stderr, "container-init:", err)
		os.Exit(128)
	}
	execAs(cfg)
}

// containerExec runs, via nsenter, in a running container's namespaces: a hook or exec probe.
func containerExec() {
	execAs(readSpec())
}

func readSpec() *containerConfig {
	var cfg containerConfig
	if err := json.Unmarshal([]byte(os.Getenv(specEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "container spec:", err)
		os.Exit(128)
	}
	return &cfg
}

func setupRoot(cfg *containerConfig) error {
	root := cfg.Rootfs
	// Nothing mounted from here on may propagate back to the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("tmpfs root: %w", err)
	}
	if err := copyTree(cfg.ImageRoot, root); err != nil {
		return fmt.Errorf("copy image: %w", err)
	}
	if err := mountAt(root, "/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	// sysfs mounted from inside the pod's network namespace shows that namespace's interfaces.
	if err := mountAt(root, "/sys", "sysfs", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := setupDev(root); err != nil {
		return err
	}
	if err := bind(root, cfg.Hosts, "/etc/hosts", false); err != nil {
		return err
	}
	if err := bind(root, cfg.TerminationLog, cfg.TerminationPath, false); err != nil {
		return err
	}
	for _, m := range cfg.Mounts {
		if err := bind(root, m.Source, m.Target, m.ReadOnly); err != nil {
			return err
		}
	}
	wd, err := securejoin.SecureJoin(root, cfg.WorkDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(wd, 0o755); err != nil {
		return err
	}
	if cfg.ReadOnlyRoot {
		if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return fmt.Errorf("read-only root: %w", err)
		}
	}
	return unix.Sethostname([]byte(cfg.Hostname))
}

// setupDev gives the container a /dev of its own, as runtimes do, rather than the host's: a
// file created there (the termination log's mount point) must not appear on the host.
func setupDev(root string) error {
	if err := mountAt(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=0755"); err != nil {
		return err
	}
	dev := filepath.Join(root, "dev")
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := bind(root, "/dev/"+name, "/dev/"+name, false); err != nil {
			return err
		}
	}
	if err := mountAt(root, "/dev/pts", "devpts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := mountAt(root, "/dev/shm", "shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

func mountAt(root, target, source, fstype string, flags uintptr, data string) error {
	path, err := securejoin.SecureJoin(root, target)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(source, path, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, target, err)
	}
	return nil
}

// bind mounts a host file or directory at target inside root, creating the mount point. The
// target is resolved within root: a symlink in the image cannot point it at the host.
func bind(root, source, target string, readOnly bool) error {
	path, err := securejoin.SecureJoin(root, target)
	if err != nil {
		return err
	}
	st, err := os.Stat(source)
	if err != nil {
		return err
	}
	if st.IsDir() {
		err = os.MkdirAll(path, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", target, err)
	}
	if err := unix.Mount(source, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", source, target, err)
	}
	if readOnly {
		if err := unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", target, err)
		}
	}
	return nil
}

// copyTree copies the image's files with their modes and owners, the way layers unpack.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			err = os.Mkdir(to, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			var link string
			if link, err = os.Readlink(path); err == nil {
				err = os.Symlink(link, to)
			}
		case info.Mode().IsRegular():
			err = copyFile(path, to)
		default:
			return nil // devices and sockets do not belong in an image
		}
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			if err := os.Lchown(to, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			return os.Chmod(to, info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		}
		return nil
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// execAs enters the container's root and becomes its user, then execs argv. Errors end the
// process the way a runtime reports them: 127 for a command not found, 126 otherwise.
func execAs(cfg *containerConfig) {
	fail := func(code int, err error) {
		fmt.Fprintln(os.Stderr, "exec:", err)
		os.Exit(code)
	}
	if err := unix.Chroot(cfg.Rootfs); err != nil {
		fail(126, fmt.Errorf("chroot %s: %w", cfg.Rootfs, err))
	}
	if err := unix.Chdir(cfg.WorkDir); err != nil {
		fail(126, fmt.Errorf("chdir %s: %w", cfg.WorkDir, err))
	}
	if cfg.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fail(126, fmt.Errorf("no_new_privs: %w", err))
		}
	}
	groups := make([]int, 0, len(cfg.Groups))
	for _, g := range cfg.Groups {
		groups = append(groups, int(g))
	}
	if err := syscall.Setgroups(groups); err != nil {
		fail(126, fmt.Errorf("setgroups: %w", err))
	}
	if err := syscall.Setgid(int(cfg.GID)); err != nil {
		fail(126, fmt.Errorf("setgid: %w", err))
	}
	if err := syscall.Setuid(int(cfg.UID)); err != nil {
		fail(126, fmt.Errorf("setuid: %w", err))
	}
	path, err := lookPath(cfg.Argv[0], cfg.Env)
	if err != nil {
		fail(127, err)
	}
	err = syscall.Exec(path, cfg.Argv, cfg.Env)
	fail(126, fmt.Errorf("exec %s: %w", path, err))
}

// lookPath finds a bare command name on the container's PATH, inside its root.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		candidate := filepath.Join(dir, name)
		if st, err := os.Stat(candidate); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("%q: executable file not found in $PATH", name)
}
