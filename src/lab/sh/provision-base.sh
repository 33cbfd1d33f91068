#!/bin/bash
# Provision the droplet base rootfs R (runs once per cache key, from build-image.sh). Everything
# host-specific (hostname, address, host key, machine-id, client key) is added per clone by the lab.
set -euo pipefail
R=$1
inr() { chroot "$R" "$@"; }
mount -t proc proc "$R/proc"; mount -t tmpfs tmpfs "$R/dev/shm"
trap 'umount "$R/dev/shm" "$R/proc" 2>/dev/null || true' EXIT

# smaller image, and later layers (NAS) install no docs either
cat > "$R/etc/dpkg/dpkg.cfg.d/01-lab-nodoc" <<'X'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
X
rm -rf "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/info/*
find "$R/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# OpenSSH: key-only; the lab installs a generated ed25519 host key per host before boot
rm -f "$R"/etc/ssh/ssh_host_*
cat > "$R/etc/ssh/sshd_config.d/10-lab.conf" <<'X'
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
X

# the deploy user (unlocked with '*': no password, key login only)
inr useradd -m -u 1000 -s /bin/bash deploy
inr usermod -p '*' deploy
install -d -m 700 -o 1000 -g 1000 "$R/home/deploy/.ssh"
install -d -m 700 "$R/root/.ssh"

# LIMITED sudo for deploy (documented in docs/lab.md). Paths are restricted with sudo's regular
# expressions: path components must not start with '.', so '..' cannot escape the deploy dirs.
install -m 440 /dev/stdin "$R/etc/sudoers.d/slipway-deploy" <<'X'
# slipway lab: what the deploy user may run as root (sudo -n, no password)
Cmnd_Alias SLIPWAY_TOOLS = /usr/bin/systemctl, /usr/bin/journalctl, /usr/bin/systemd-analyze, \
  /usr/bin/supervisorctl, /usr/bin/crontab, /usr/sbin/logrotate
Cmnd_Alias SLIPWAY_FILES = \
  /usr/bin/install ^(-[a-zA-Z]+ |-[mog] [a-zA-Z0-9_.-]+ |--mode[=][0-7]+ )*((/srv|/opt/slipway|/var/backups/slipway|/var/log/slipway|/etc/systemd/system|/etc/supervisor/conf\.d|/etc/logrotate\.d)(/[a-zA-Z0-9_@%+-][a-zA-Z0-9_.@%+-]*)* ?)+$, \
  /usr/bin/mkdir ^(-[a-zA-Z]+ |-m [0-7]+ )*((/srv|/opt/slipway|/var/backups/slipway|/var/log/slipway)(/[a-zA-Z0-9_@%+-][a-zA-Z0-9_.@%+-]*)* ?)+$, \
  /usr/bin/chown ^(-[a-zA-Z]+ )*[a-zA-Z0-9_.-]+([:][a-zA-Z0-9_.-]*)? ((/srv|/opt/slipway|/var/backups/slipway|/var/log/slipway)(/[a-zA-Z0-9_@%+-][a-zA-Z0-9_.@%+-]*)* ?)+$, \
  /usr/bin/chmod ^(-[a-zA-Z]+ )*[0-7ugoa+=rwxXst-]+ ((/srv|/opt/slipway|/var/backups/slipway|/var/log/slipway)(/[a-zA-Z0-9_@%+-][a-zA-Z0-9_.@%+-]*)* ?)+$, \
  /usr/bin/ln ^(-[a-zA-Z]+ )*((/srv|/opt/slipway|/var/backups/slipway|/var/log/slipway|/etc/systemd/system|/etc/supervisor/conf\.d|/etc/logrotate\.d)(/[a-zA-Z0-9_@%+-][a-zA-Z0-9_.@%+-]*)* ?)+$, \
  /usr/bin/mv ^(-[a-zA-Z]+ )*((/srv|/opt/slipway|/var/backups/slipway|/var/log/slipway|/etc/systemd/system|/etc/supervisor/conf\.d|/etc/logrotate\.d)(/[a-zA-Z0-9_@%+-][a-zA-Z0-9_.@%+-]*)* ?)+$, \
  /usr/bin/rm ^(-[a-zA-Z]+ )*((/srv|/opt/slipway|/var/backups/slipway|/var/log/slipway|/etc/systemd/system|/etc/supervisor/conf\.d|/etc/logrotate\.d)(/[a-zA-Z0-9_@%+-][a-zA-Z0-9_.@%+-]*)+ ?)+$
Cmnd_Alias SLIPWAY_CONFIG = /usr/bin/tee ^(-a )?/etc/systemd/system/[a-zA-Z0-9_@:.-]+$, \
  /usr/bin/tee ^(-a )?/etc/supervisor/conf\.d/[a-zA-Z0-9_.-]+$, \
  /usr/bin/tee ^(-a )?/etc/logrotate\.d/[a-zA-Z0-9_.-]+$
deploy ALL=(root) NOPASSWD: SLIPWAY_TOOLS, SLIPWAY_FILES, SLIPWAY_CONFIG
X
inr visudo -c >/dev/null

# PostgreSQL 15: a UTF-8 cluster 'main' with database app owned by role deploy (peer auth on the
# socket: the deploy OS user logs in as role deploy). Created in single-user mode: no server needed.
inr pg_dropcluster 15 main 2>/dev/null || true
inr pg_createcluster --locale C.UTF-8 15 main >/dev/null
for sql in "CREATE ROLE deploy LOGIN CREATEDB" "CREATE DATABASE app OWNER deploy"; do
  echo "$sql" | inr runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres --single -j \
    -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf postgres >/dev/null
done
# for the container case (image from this rootfs): trust on the socket, like the official images
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$R/etc/postgresql/15/main/pg_hba-container.conf"

# boot: nothing that needs hardware, prompts or runs apt in the background
inr systemctl mask systemd-timesyncd.service getty@tty1.service console-getty.service \
  systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer fstrim.timer >/dev/null 2>&1
# seed 003's redis and rabbitmq: installed, not started at boot (only the etf scenario needs them)
inr systemctl disable redis-server.service rabbitmq-server.service epmd.socket >/dev/null 2>&1 || true
inr systemctl enable systemd-networkd.service supervisor.service cron.service ssh.service postgresql.service >/dev/null 2>&1
# a private netns has no usable resolver: fail fast instead of stalling 10 s per lookup
rm -f "$R/etc/resolv.conf"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$R/etc/resolv.conf"
: > "$R/etc/machine-id"
install -d -m 755 "$R/srv"
inr apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/log/apt/*
