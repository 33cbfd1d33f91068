#!/bin/bash
# Provision the NAS layer (runs once per cache key, in an overlay over the base rootfs): dockerd and
# docker-compose v1, arranged like a Synology DS: the CLIs live in /usr/local/bin (not on the PATH of
# a non-interactive ssh session), the socket is root-only and deploy reaches docker only via sudo.
set -euo pipefail
R=$1; DEBS=$2
HERE=$(cd "$(dirname "$0")" && pwd)
inr() { chroot "$R" "$@"; }
mount -t proc proc "$R/proc"
mount --bind "$DEBS" "$R/var/cache/apt/archives"
cp /etc/resolv.conf "$R/etc/resolv.conf.lab"; mv "$R/etc/resolv.conf" "$R/etc/resolv.conf.orig"; mv "$R/etc/resolv.conf.lab" "$R/etc/resolv.conf"
trap 'umount "$R/var/cache/apt/archives" "$R/proc" 2>/dev/null || true' EXIT
inr apt-get update -qq
# policy-rc.d: do not start daemons inside the chroot
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod +x "$R/usr/sbin/policy-rc.d"
DEBIAN_FRONTEND=noninteractive inr apt-get install -y -qq --no-install-recommends $(grep -v "^#" "$HERE/nas-packages.txt")
rm -f "$R/usr/sbin/policy-rc.d"
mv "$R/etc/resolv.conf.orig" "$R/etc/resolv.conf"

# Synology layout: dpkg-divert moves the CLIs to /usr/local/bin (and keeps them there on upgrades)
for b in docker docker-compose; do
  inr dpkg-divert --local --rename --divert "/usr/local/bin/$b" --add "/usr/bin/$b" >/dev/null
done
test ! -e "$R/usr/bin/docker" && test ! -e "$R/usr/bin/docker-compose" && test -x "$R/usr/local/bin/docker"
# a non-interactive ssh session gets this PATH (sshd's default would include /usr/local/bin)
echo 'SetEnv PATH=/usr/bin:/bin:/usr/sbin:/sbin' > "$R/etc/ssh/sshd_config.d/20-nas-path.conf"
# socket root-only; deploy is not in the docker group
install -d "$R/etc/systemd/system/docker.socket.d"
printf '[Socket]\nSocketGroup=root\nSocketMode=0600\n' > "$R/etc/systemd/system/docker.socket.d/10-lab-root-only.conf"
install -m 440 /dev/stdin "$R/etc/sudoers.d/slipway-deploy-nas" <<'X'
# slipway lab (NAS): docker only through sudo, by full path
deploy ALL=(root) NOPASSWD: /usr/local/bin/docker, /usr/local/bin/docker-compose
X
inr visudo -c >/dev/null

# Nested runc needs writable cgroup v1 hierarchies: nspawn mounts them read-only, so before
# containerd/docker start, unmount them and mount fresh rw hierarchies (works with --capability=all).
cat > "$R/etc/systemd/system/cgroup-rw.service" <<'X'
[Unit]
Description=remount cgroup v1 controllers rw for nested docker
DefaultDependencies=no
Before=containerd.service docker.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for c in cpu cpuacct cpuset memory devices freezer blkio pids; do while mountpoint -q /sys/fs/cgroup/$c; do umount /sys/fs/cgroup/$c || break; done; mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c; done'
[Install]
WantedBy=multi-user.target
X
# The NAS's own images and its database container: local/debian:bookworm is imported from the
# base tarball (bind-mounted read-only by the lab), local/postgres:15 is a metadata-only build on it.
install -m 755 /dev/stdin "$R/usr/local/sbin/lab-nas-images" <<'X'
#!/bin/sh
set -eu
D=/usr/local/bin/docker
$D image inspect local/debian:bookworm >/dev/null 2>&1 || $D import /var/lib/slipway-lab/image.tar local/debian:bookworm >/dev/null
if ! $D image inspect local/postgres:15 >/dev/null 2>&1; then
  mkdir -p /tmp/lab-pg && cat > /tmp/lab-pg/Dockerfile <<'DF'
FROM local/debian:bookworm
USER postgres
ENV PATH=/usr/lib/postgresql/15/bin:/usr/bin:/bin
EXPOSE 5432
STOPSIGNAL SIGINT
HEALTHCHECK --interval=1s --timeout=3s --retries=30 CMD ["pg_isready", "-q", "-h", "/tmp", "-d", "app"]
CMD ["postgres", "-D", "/var/lib/postgresql/15/main", "-c", "config_file=/etc/postgresql/15/main/postgresql.conf", "-c", "hba_file=/etc/postgresql/15/main/pg_hba-container.conf", "-c", "listen_addresses=*", "-c", "unix_socket_directories=/tmp", "-c", "data_directory=/var/lib/postgresql/15/main"]
DF
  $D build -q -t local/postgres:15 /tmp/lab-pg >/dev/null; rm -rf /tmp/lab-pg
fi
$D inspect lab-postgres >/dev/null 2>&1 || $D create --name lab-postgres --restart unless-stopped --init -e PGHOST=/tmp -e PGDATABASE=app local/postgres:15 >/dev/null
$D start lab-postgres >/dev/null
X
cat > "$R/etc/systemd/system/lab-nas-images.service" <<'X'
[Unit]
Description=slipway lab: local images and the lab-postgres container
Requires=docker.service
After=docker.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/lab-nas-images
[Install]
WantedBy=multi-user.target
X
inr systemctl enable cgroup-rw.service lab-nas-images.service docker.service containerd.service >/dev/null 2>&1
inr apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/log/apt/*
