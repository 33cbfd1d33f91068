// The lab's hosts are what the issue promises: reachable with pinned keys, booted systemd, the
// droplet software stack, a limited deploy sudo, a Synology-like NAS, and a valid environment file.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadEnvironment } from "../../src/config/load.js";
import { fingerprint } from "../../src/lab/host.js";
import { ssh } from "../../src/lab/ssh.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("*");

describe("lab hosts", () => {
  it("has 2 droplets and a NAS on their own veth addresses", () => {
    const s = lab();
    expect(s.hosts.map((h) => [h.name, h.address])).toEqual(
      expect.arrayContaining([["droplet-1", "10.77.1.2"], ["droplet-2", "10.77.2.2"], ["nas-1", "10.77.101.2"]]),
    );
  });

  it("reaches every host with the pinned host key, and systemd says running", async () => {
    for (const h of lab().hosts) {
      for (const user of ["root", "deploy"]) {
        const r = await on(h.name, user, "systemctl is-system-running; id -un; hostname");
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.split("\n")).toEqual(["running", user, h.name]);
      }
    }
  });

  it("pins the key the host really serves (fingerprint of its /etc/ssh key)", async () => {
    for (const h of lab().hosts) {
      const pub = await on(h.name, "root", "cat /etc/ssh/ssh_host_ed25519_key.pub");
      expect(fingerprint(pub.stdout)).toBe(h.hostKeyFingerprint);
      expect(readFileSync(lab().knownHosts, "utf8")).toContain(h.knownHostsLine);
    }
  });

  it("refuses a host whose key does not match the pinned one (no trust on first use)", async () => {
    const s = lab();
    const [a, b] = s.hosts;
    const forged = path.join(s.labDir, "known_hosts.forged");
    // b's address, but a's key
    writeFileSync(forged, `${b!.address} ${a!.knownHostsLine.split(" ").slice(1).join(" ")}\n`);
    try {
      const bad = await ssh({ ...s, knownHosts: forged }, b!, "root", "true", { timeoutMs: 15_000 });
      expect(bad.code).toBe(255);
      expect(bad.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    } finally {
      rmSync(forged, { force: true });
    }
  });

  it("runs the droplet stack: postgres (app, usable by deploy), supervisord, cron, logrotate, tools", async () => {
    for (const h of lab().hosts) {
      const units = await on(h.name, "root", "systemctl is-active postgresql@15-main supervisor cron ssh systemd-networkd logrotate.timer");
      expect(units.stdout.split("\n")).toEqual(Array(6).fill("active"));
      const db = await on(h.name, "deploy", "psql -d app -Atc 'select current_user, current_database()'");
      expect(db.stdout).toBe("deploy|app");
      const tools = await on(h.name, "deploy", "for t in curl python3 sqlite3 sudo rsync crontab logrotate supervisorctl; do command -v $t >/dev/null || PATH=/usr/sbin:$PATH command -v $t >/dev/null || echo missing $t; done; echo done");
      expect(tools.stdout).toBe("done");
      const slipway = await on(h.name, "root", "ls /srv; ls /etc/systemd/system | grep -ci slipway || true");
      expect(slipway.stdout).toBe("0"); // nothing of slipway pre-installed, /srv empty
    }
  });

  it("gives deploy the documented limited sudo, nothing more", async () => {
    const allowed = [
      "systemctl is-system-running",
      "journalctl -n 1 --no-pager",
      "mkdir -p /srv/app/releases/1",
      "chown -R deploy:deploy /srv/app",
      "chmod 0755 /srv/app",
      "ln -sfn /srv/app/releases/1 /srv/app/current",
      "mv /srv/app/current /srv/app/current2",
      "rm -rf /srv/app",
      "supervisorctl status",
      "crontab -l -u deploy",
    ];
    const denied = ["cat /etc/shadow", "rm -rf /srv/../etc/passwd", "chown deploy /etc/passwd", "tee /etc/passwd", "mkdir /srv/a /etc/b", "bash -c id"];
    for (const c of allowed) {
      const r = await on("droplet-1", "deploy", `sudo -n -l ${c} >/dev/null 2>&1 && echo allowed || echo denied`);
      expect(r.stdout, c).toBe("allowed");
    }
    const ops = await on("droplet-1", "deploy", "set -e; sudo -n mkdir -p /srv/app/releases/1; sudo -n chown -R deploy:deploy /srv/app; sudo -n ln -sfn /srv/app/releases/1 /srv/app/current; readlink /srv/app/current; sudo -n rm -rf /srv/app");
    expect(ops.stdout, ops.stderr).toBe("/srv/app/releases/1");
    for (const c of denied) {
      const r = await on("droplet-1", "deploy", `sudo -n -l ${c} >/dev/null 2>&1 && echo allowed || echo denied`);
      expect(r.stdout, c).toBe("denied");
    }
    const tee = await on("droplet-1", "deploy", "echo '# lab' | sudo -n tee /etc/logrotate.d/lab-test >/dev/null && cat /etc/logrotate.d/lab-test && sudo -n rm /etc/logrotate.d/lab-test");
    expect(tee.stdout).toBe("# lab");
  });

  it("makes the NAS behave like a Synology: docker in /usr/local/bin, off the ssh PATH, root-only socket", async () => {
    const r = await on("nas-1", "deploy", "echo $PATH; command -v docker || echo none; ls /usr/bin/docker /usr/bin/docker-compose 2>/dev/null | wc -l; stat -c '%U:%G %a' /run/docker.sock; id -Gn; /usr/local/bin/docker ps >/dev/null 2>&1 && echo direct || echo no-direct");
    expect(r.stdout.split("\n")).toEqual(["/usr/bin:/bin:/usr/sbin:/sbin", "none", "0", "root:root 600", "deploy", "no-direct"]);
    const sudo = await on("nas-1", "deploy", "sudo -n /usr/local/bin/docker ps --format '{{.Names}} {{.Status}}'; sudo -n /usr/local/bin/docker-compose version --short; sudo -n /usr/local/bin/docker image inspect -f ok local/debian:bookworm");
    expect(sudo.code, sudo.stderr).toBe(0);
    expect(sudo.stdout).toMatch(/^lab-postgres Up .*\(healthy\)\n1\.29\.\d+\nok$/);
  });

  it("serves the app database from the lab-postgres container on the NAS", async () => {
    const r = await on("nas-1", "deploy", "sudo -n /usr/local/bin/docker exec lab-postgres psql -U postgres -d app -Atc 'select current_database(), 6*7'");
    expect(r.stdout).toBe("app|42");
  });

  it("writes a valid slipway environment (.lab/lab.yml) with pinned keys", () => {
    const s = lab();
    const loaded = loadEnvironment(s.envFile);
    const env = loaded.env;
    expect(Object.keys(env.hosts).sort()).toEqual(s.hosts.map((h) => h.name).sort());
    for (const h of s.hosts) {
      const eh = env.hosts[h.name]!;
      expect(eh).toMatchObject({ address: h.address, port: 22, user: "deploy", sudo: true, "host-key": h.hostKeyFingerprint, "identity-file": s.clientKey });
      if (h.kind === "nas") expect(eh.commands).toEqual({ docker: "/usr/local/bin/docker", compose: "/usr/local/bin/docker-compose" });
    }
    expect(env.databases["droplet-app"]).toMatchObject({ engine: "postgres", on: { host: "droplet-1" }, name: "app" });
    expect(env.databases["nas-app"]).toMatchObject({ engine: "postgres", on: { host: "nas-1", container: "lab-postgres" }, name: "app" });
  });
});

describe("between lab hosts", () => {
  it("a host reaches another host's services (routed by the machine for the lab's veths only)", async () => {
    const target = lab().hosts.find((h) => h.name === "droplet-2")!;
    const r = await on("droplet-1", "deploy", `timeout 5 bash -c '</dev/tcp/${target.address}/22' && echo reached`);
    expect(r.stdout).toBe("reached");
    expect(readFileSync("/proc/sys/net/ipv4/conf/ve-droplet-1/forwarding", "utf8").trim()).toBe("1");
  });
});
