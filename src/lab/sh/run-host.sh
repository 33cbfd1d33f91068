#!/bin/bash
# Supervise one lab host: join its cgroups, run systemd-nspawn, give the host end of the veth its
# address, and boot again when the container reboots (nspawn exits 133, like systemd-nspawn@.service).
# Usage: run-host.sh NAME VETH HOST_CIDR -- systemd-nspawn ARGS...   (SIGTERM: clean poweroff)
set -u
NAME=$1 VETH=$2 CIDR=$3; shift 4
# own cgroups: the freezer one freezes the whole host (and its nested docker containers, whose
# cgroup-parent lies below); nspawn creates its payload cgroup below ours instead of at the root;
# cpuacct counts the host's CPU time (benchmarks: what a deploy costs on the host)
for c in freezer systemd unified cpuacct; do
  d=/sys/fs/cgroup/$c/slipway-lab/$NAME
  [ -d "/sys/fs/cgroup/$c" ] || continue
  mkdir -p "$d" && echo $$ > "$d/cgroup.procs"
done
child=
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
while :; do
  systemd-nspawn "$@" </dev/null &
  child=$!
  for _ in $(seq 1 200); do ip link show "$VETH" >/dev/null 2>&1 && break; kill -0 "$child" 2>/dev/null || break; sleep 0.05; done
  ip addr replace "$CIDR" dev "$VETH" && ip link set "$VETH" up
  # lab hosts reach each other through the machine (seed 000's database on another host):
  # forwarding on this veth only (a reboot makes a new one), never net.ipv4.ip_forward
  echo 1 > "/proc/sys/net/ipv4/conf/$VETH/forwarding"
  wait "$child"; rc=$?
  while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done   # wait was interrupted by the trap
  [ "$rc" = 133 ] || exit "$rc"
  echo "run-host: $NAME rebooting"
done
