// SPDX-License-Identifier: GPL-2.0
//
// The kernel half of purpleharness's eBPF sensor. Each program copies what
// one tracepoint says, and the state of the task or socket it concerns, into
// a ring buffer record; user space (sensor.go) decides what the records mean.
// Every program and map name starts with "ph_" so a leftover is recognisable
// in `bpftool prog` / `bpftool map`.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define PH_ARGS_MAX 4096  /* argv bytes kept per exec; must be a power of two */
#define PH_PATH_MAX 2048  /* path bytes kept; must be a power of two */
#define PH_NAME_MAX 256   /* longest path component read at once */
#define PH_PATH_DEPTH 40  /* path components walked */

enum ph_kind {
	PH_FORK = 1,
	PH_EXEC = 2,
	PH_EXIT = 3,
	PH_SOCK_STATE = 4,
	PH_CONNECT = 5,
	PH_ACCEPT = 6,
	PH_MARK = 7,
};

/* Indexes of ph_drops. */
enum ph_drop {
	PH_DROP_RING = 0,  /* the ring buffer was full */
	PH_DROP_TABLE = 1, /* ph_connects was full: a connect lost its arguments */
	PH_DROP_MAX = 2,
};

/* The task an event concerns (for exec and exit, the current one; for fork,
 * the child). Times are CLOCK_BOOTTIME nanoseconds. */
struct task_info {
	__u64 start_ns;        /* thread group leader's start_boottime */
	__u64 parent_start_ns; /* real parent's leader's start_boottime */
	__u32 pid;             /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 pgid;
	__u32 sid;
	__u32 uid, euid, gid, egid;
	__u32 auid, ses;
	__u32 tty_major, tty_minor; /* controlling terminal; 0, 0 for none */
	__u8 comm[16];
	__u8 tty_name[32];          /* its name as audit prints it ("pts0"); "" for none */
};

/* Fork (the child) and exit (the process whose last thread exited). */
struct proc_event {
	__u32 kind;
	__s32 exit_code; /* exit: task->exit_code, a wait status */
	__u64 ktime;
	struct task_info task;
};

/* Exec: the process after a successful execve. exe and cwd hold the path's
 * components leaf first, each NUL-terminated. */
struct exec_event {
	__u32 kind;
	__u32 args_len;
	__u64 ktime;
	struct task_info task;
	__u32 exe_len;
	__u32 cwd_len;
	__u8 args[PH_ARGS_MAX];
	__u8 exe[PH_PATH_MAX + PH_NAME_MAX];
	__u8 cwd[PH_PATH_MAX + PH_NAME_MAX];
};

/* A socket: a TCP state change (sock:inet_sock_set_state), or the socket
 * behind the fd of a connect(2) that returned or an accept(2). Addresses
 * are in network order, ports in host order; IPv4 in the first 4 bytes. */
struct sock_event {
	__u32 kind;
	__s32 ret;        /* connect/accept: the syscall's return */
	__u64 ktime;
	__u64 skaddr;     /* the struct sock's address: the socket's identity */
	__s32 oldstate, newstate;
	__u16 family, protocol;
	__u16 sport, dport;
	__u8 saddr[16], daddr[16];
	/* connect: the destination as the caller passed it */
	__u16 arg_family, arg_port;
	__u8 arg_addr[16];
	__u64 bytes_acked, bytes_received;
	__u8 trace_flags; /* the tracepoint's common_flags (softirq, hardirq) */
	__u8 _pad[7];
	struct task_info task; /* current: meaningful only outside interrupts */
};

/* Sync's marker: a connect(2) by the sensor's own process to fd
 * PH_MARK_FD, its addrlen the token. */
struct mark_event {
	__u32 kind;
	__u32 token;
	__u64 ktime;
};

#define PH_MARK_FD (-7)

const volatile __u32 ph_self_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 26);
} ph_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PH_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ph_drops SEC(".maps");

struct ph_connect_args {
	__s32 fd;
	__u16 family, port;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct ph_connect_args);
} ph_connects SEC(".maps");

/* Forces the event types into BTF, for bpf2go -type. */
const struct proc_event *unused_proc __attribute__((unused));
const struct exec_event *unused_exec __attribute__((unused));
const struct sock_event *unused_sock __attribute__((unused));
const struct mark_event *unused_mark __attribute__((unused));

static __always_inline void count_drop(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&ph_drops, &which);
	if (n)
		*n += 1;
}

static __always_inline void *reserve(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&ph_events, size, 0);
	if (!e)
		count_drop(PH_DROP_RING);
	return e;
}

static __always_inline __u32 pid_nr(struct task_struct *t, int type)
{
	struct pid *p = BPF_CORE_READ(t, signal, pids[type]);
	if (!p)
		return 0;
	return BPF_CORE_READ(p, numbers[0].nr);
}

static __always_inline void fill_task(struct task_info *out, struct task_struct *t)
{
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	struct task_struct *parent = BPF_CORE_READ(t, real_parent);
	out->start_ns = BPF_CORE_READ(leader, start_boottime);
	out->parent_start_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
	out->pid = BPF_CORE_READ(t, tgid);
	out->tid = BPF_CORE_READ(t, pid);
	out->ppid = BPF_CORE_READ(parent, tgid);
	out->pgid = pid_nr(t, PIDTYPE_PGID);
	out->sid = pid_nr(t, PIDTYPE_SID);
	const struct cred *c = BPF_CORE_READ(t, real_cred);
	out->uid = BPF_CORE_READ(c, uid.val);
	out->euid = BPF_CORE_READ(c, euid.val);
	out->gid = BPF_CORE_READ(c, gid.val);
	out->egid = BPF_CORE_READ(c, egid.val);
	out->auid = BPF_CORE_READ(t, loginuid.val);
	out->ses = BPF_CORE_READ(t, sessionid);
	BPF_CORE_READ_STR_INTO(&out->comm, t, comm);
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (tty) {
		out->tty_major = BPF_CORE_READ(tty, driver, major);
		out->tty_minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		BPF_CORE_READ_STR_INTO(&out->tty_name, tty, name);
	} else {
		out->tty_major = 0;
		out->tty_minor = 0;
		out->tty_name[0] = 0;
	}
}

/* Writes the components of p into buf, leaf first, crossing mount points,
 * and returns the bytes written. */
static __always_inline __u32 walk_path(__u8 *buf, const struct path *p)
{
	struct dentry *d = BPF_CORE_READ(p, dentry);
	struct vfsmount *vm = BPF_CORE_READ(p, mnt);
	struct mount *m = (void *)vm - bpf_core_field_offset(struct mount, mnt);
	__u32 off = 0;

	for (int i = 0; i < PH_PATH_DEPTH; i++) {
		struct dentry *root = BPF_CORE_READ(vm, mnt_root);
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		if (d == root || d == parent) {
			struct mount *mp = BPF_CORE_READ(m, mnt_parent);
			if (mp == m || !mp)
				break;
			d = BPF_CORE_READ(m, mnt_mountpoint);
			m = mp;
			vm = (void *)m + bpf_core_field_offset(struct mount, mnt);
			continue;
		}
		if (off >= PH_PATH_MAX)
			break;
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);
		long n = bpf_probe_read_kernel_str(&buf[off & (PH_PATH_MAX - 1)], PH_NAME_MAX, name);
		if (n <= 0)
			break;
		off += n;
		d = parent;
	}
	return off;
}

SEC("raw_tracepoint/sched_process_fork")
int ph_fork(__u64 *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx[1];
	/* A new thread is not a new process. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	struct proc_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	e->kind = PH_FORK;
	e->exit_code = 0;
	e->ktime = bpf_ktime_get_boot_ns();
	fill_task(&e->task, child);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int ph_exec(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct exec_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	e->kind = PH_EXEC;
	e->ktime = bpf_ktime_get_boot_ns();
	fill_task(&e->task, t);

	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u32 n = 0;
	if (end > start) {
		n = end - start;
		if (n > PH_ARGS_MAX - 1)
			n = PH_ARGS_MAX - 1;
		n &= PH_ARGS_MAX - 1;
		if (bpf_probe_read_user(e->args, n, (void *)start) != 0)
			n = 0;
	}
	e->args_len = n;

	struct file *exe = BPF_CORE_READ(mm, exe_file);
	e->exe_len = exe ? walk_path(e->exe, &exe->f_path) : 0;
	struct fs_struct *fs = BPF_CORE_READ(t, fs);
	e->cwd_len = fs ? walk_path(e->cwd, &fs->pwd) : 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int ph_exit(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	/* Only the last thread's exit ends the process. */
	if (BPF_CORE_READ(t, signal, live.counter) != 0)
		return 0;
	struct proc_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	e->kind = PH_EXIT;
	e->ktime = bpf_ktime_get_boot_ns();
	e->exit_code = BPF_CORE_READ(t, exit_code);
	fill_task(&e->task, t);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* The layout of sock:inet_sock_set_state's record (its format file). */
struct ph_tp_sock_state {
	__u64 common; /* type:16, flags:8, preempt_count:8, pid:32 */
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

#define PH_AF_INET 2
#define PH_AF_INET6 10
#define PH_IPPROTO_TCP 6
#define PH_TCP_ESTABLISHED 1
#define PH_TCP_SYN_SENT 2
#define PH_TCP_CLOSE 7
#define PH_TCP_CLOSE_WAIT 8

SEC("tracepoint/sock/inet_sock_set_state")
int ph_sock_state(struct ph_tp_sock_state *ctx)
{
	if (ctx->protocol != PH_IPPROTO_TCP)
		return 0;
	/* Only the transitions user space reads: a connect queuing its SYN,
	 * a connection established, a close beginning (leaving ESTABLISHED or
	 * CLOSE_WAIT), the socket's end. The server side's SYN_RECV steps and
	 * the FIN_WAIT2/CLOSING/TIME_WAIT steps would only fill the ring. */
	int o = ctx->oldstate, n = ctx->newstate;
	if (!(n == PH_TCP_ESTABLISHED || n == PH_TCP_CLOSE || (o == PH_TCP_CLOSE && n == PH_TCP_SYN_SENT) ||
	      o == PH_TCP_ESTABLISHED || o == PH_TCP_CLOSE_WAIT))
		return 0;
	/* A passive open's ESTABLISHED: the accept that follows tells. */
	if (n == PH_TCP_ESTABLISHED && o != PH_TCP_SYN_SENT)
		return 0;
	struct sock_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = PH_SOCK_STATE;
	e->ktime = bpf_ktime_get_boot_ns();
	e->skaddr = (__u64)ctx->skaddr;
	e->oldstate = ctx->oldstate;
	e->newstate = ctx->newstate;
	e->family = ctx->family;
	e->protocol = ctx->protocol;
	e->sport = ctx->sport;
	e->dport = ctx->dport;
	if (ctx->family == PH_AF_INET6) {
		__builtin_memcpy(e->saddr, ctx->saddr_v6, 16);
		__builtin_memcpy(e->daddr, ctx->daddr_v6, 16);
	} else {
		__builtin_memcpy(e->saddr, ctx->saddr, 4);
		__builtin_memcpy(e->daddr, ctx->daddr, 4);
	}
	/* Leaving ESTABLISHED or CLOSE_WAIT: the connection's byte counts. */
	if (o == PH_TCP_ESTABLISHED || o == PH_TCP_CLOSE_WAIT) {
		struct tcp_sock *tp = (struct tcp_sock *)ctx->skaddr;
		e->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
		e->bytes_received = BPF_CORE_READ(tp, bytes_received);
	}
	/* The verifier refuses direct reads of the common fields. */
	__u64 common = 0;
	bpf_probe_read_kernel(&common, sizeof(common), ctx);
	e->trace_flags = (common >> 16) & 0xff;
	fill_task(&e->task, (struct task_struct *)bpf_get_current_task());
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Reads the socket behind fd of the current task into e. */
static __always_inline void fill_sock(struct sock_event *e, int fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return;
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return;
	e->skaddr = (__u64)sk;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->protocol = BPF_CORE_READ(sk, sk_protocol);
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == PH_AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else if (e->family == PH_AF_INET) {
		__be32 saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->saddr, &saddr, 4);
		__builtin_memcpy(e->daddr, &daddr, 4);
	}
}

/* The layouts of the syscalls:sys_enter_connect and sys_exit_* records. */
struct ph_tp_sys_enter_connect {
	__u64 common;
	__s32 __syscall_nr;
	__u32 _pad;
	__u64 fd;
	const void *uservaddr;
	__u64 addrlen;
};

struct ph_tp_sys_exit {
	__u64 common;
	__s32 __syscall_nr;
	__u32 _pad;
	long ret;
};

struct ph_sockaddr {
	__u16 family;
	__u16 port; /* network order */
	__u32 flowinfo_or_addr;
	__u8 addr6[16];
};

SEC("tracepoint/syscalls/sys_enter_connect")
int ph_connect_enter(struct ph_tp_sys_enter_connect *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	if (tgid == ph_self_tgid && (int)ctx->fd == PH_MARK_FD) {
		struct mark_event *m = reserve(sizeof(*m));
		if (!m)
			return 0;
		m->kind = PH_MARK;
		m->token = (__u32)ctx->addrlen;
		m->ktime = bpf_ktime_get_boot_ns();
		bpf_ringbuf_submit(m, 0);
		return 0;
	}
	struct ph_sockaddr sa = {};
	if (bpf_probe_read_user(&sa, sizeof(sa), ctx->uservaddr) != 0 &&
	    bpf_probe_read_user(&sa, 8, ctx->uservaddr) != 0)
		return 0;
	if (sa.family != PH_AF_INET && sa.family != PH_AF_INET6)
		return 0;
	struct ph_connect_args a = {};
	a.fd = (int)ctx->fd;
	a.family = sa.family;
	a.port = __builtin_bswap16(sa.port);
	if (sa.family == PH_AF_INET)
		__builtin_memcpy(a.addr, &sa.flowinfo_or_addr, 4);
	else
		__builtin_memcpy(a.addr, sa.addr6, 16);
	if (bpf_map_update_elem(&ph_connects, &tid, &a, BPF_ANY) != 0)
		count_drop(PH_DROP_TABLE);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int ph_connect_exit(struct ph_tp_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ph_connect_args *a = bpf_map_lookup_elem(&ph_connects, &tid);
	if (!a)
		return 0;
	struct sock_event *e = reserve(sizeof(*e));
	if (!e) {
		bpf_map_delete_elem(&ph_connects, &tid);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = PH_CONNECT;
	e->ktime = bpf_ktime_get_boot_ns();
	e->ret = (__s32)ctx->ret;
	e->arg_family = a->family;
	e->arg_port = a->port;
	__builtin_memcpy(e->arg_addr, a->addr, 16);
	fill_sock(e, a->fd);
	bpf_map_delete_elem(&ph_connects, &tid);
	fill_task(&e->task, (struct task_struct *)bpf_get_current_task());
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int accept_exit(struct ph_tp_sys_exit *ctx)
{
	if (ctx->ret < 0)
		return 0;
	struct sock_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = PH_ACCEPT;
	e->ktime = bpf_ktime_get_boot_ns();
	e->ret = (__s32)ctx->ret;
	fill_sock(e, (int)ctx->ret);
	if (e->family != PH_AF_INET && e->family != PH_AF_INET6) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	fill_task(&e->task, (struct task_struct *)bpf_get_current_task());
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int ph_accept4_exit(struct ph_tp_sys_exit *ctx) { return accept_exit(ctx); }

SEC("tracepoint/syscalls/sys_exit_accept")
int ph_accept_exit(struct ph_tp_sys_exit *ctx) { return accept_exit(ctx); }
