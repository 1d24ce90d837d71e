package ebpf

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -tags linux -target bpfel -type proc_event -type exec_event -type sock_event -type mark_event -type task_info ph bpf/sensor.bpf.c -- -I./bpf -O2 -g -Wall -Werror
