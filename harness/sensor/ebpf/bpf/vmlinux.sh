#!/bin/sh
# The full header vmlinux.h was trimmed from: every type of the running
# kernel, as C. vmlinux.h keeps, of these, only the members the programs read
# (CO-RE finds them by name on any kernel with BTF).
exec bpftool btf dump file /sys/kernel/btf/vmlinux format c
