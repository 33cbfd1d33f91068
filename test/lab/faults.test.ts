// Every fault does what it says and its undo restores the host. Bounded: each step has a timeout.
import { describe, expect, it } from "vitest";
import { cutNetwork, fillDisk, freeze, isDiskFull, isFrozen, reboot, restoreNetwork, stopDatabase, unfillDisk } from "../../src/lab/faults.js";
import { host } from "../../src/lab/state.js";
import { lab, on } from "./helpers.js";
import { readdirSync } from "node:fs";
import path from "node:path";
import { holdHosts } from "./host-locks.js";

holdHosts("*");

const reachable = async (name: string) => (await on(name, "root", "true", { timeoutMs: 8_000 })).code === 0;

describe("faults", () => {
  it("cuts a host's network silently (timeouts, not resets) and restores it", async () => {
    const h = host(lab(), "droplet-2");
    await cutNetwork(h);
    try {
      const t0 = Date.now();
      const r = await on(h.name, "root", "true", { timeoutMs: 8_000 });
      expect(r.code).not.toBe(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1500); // ConnectTimeout=2: the packets vanished
      expect(await reachable("droplet-1")).toBe(true); // the others are unaffected
    } finally {
      await restoreNetwork(h);
    }
    expect(await reachable(h.name)).toBe(true);
  });

  it("freezes a host (and the NAS's docker containers with it) and thaws it", async () => {
    const h = host(lab(), "droplet-2");
    await freeze(h);
    try {
      expect(isFrozen(h)).toBe(true);
      expect(await reachable(h.name)).toBe(false);
    } finally {
      await freeze(h, false);
    }
    expect(await reachable(h.name)).toBe(true);
    // nested docker puts its containers below the NAS's freezer cgroup
    const nas = host(lab(), "nas-1");
    const dirs: string[] = [];
    const walk = (d: string) => readdirSync(d, { withFileTypes: true }).forEach((e) => e.isDirectory() && (dirs.push(path.join(d, e.name)), walk(path.join(d, e.name))));
    walk(nas.freezer);
    expect(dirs.some((d) => d.endsWith("/docker"))).toBe(true);
  });

  it("fills the deploy filesystem and frees it again", async () => {
    const h = host(lab(), "droplet-2");
    fillDisk(h);
    try {
      expect(isDiskFull(h)).toBe(true);
      const r = await on(h.name, "root", "df --output=avail /srv | tail -1; echo x > /srv/probe 2>&1 || echo write-failed");
      expect(r.stdout).toMatch(/^\s*0\n.*(No space left on device|write-failed)/s);
    } finally {
      unfillDisk(h);
    }
    const ok = await on(h.name, "root", "echo x > /srv/probe && rm /srv/probe && echo ok");
    expect(ok.stdout).toBe("ok");
  });

  it("stops and starts a droplet's database and the NAS's database container", async () => {
    const s = lab();
    await stopDatabase(s, host(s, "droplet-1"));
    expect((await on("droplet-1", "deploy", "pg_isready -q; echo $?")).stdout).not.toBe("0");
    await stopDatabase(s, host(s, "droplet-1"), false);
    expect((await on("droplet-1", "deploy", "psql -d app -Atc 'select 1'")).stdout).toBe("1");

    const ps = "sudo -n /usr/local/bin/docker inspect -f '{{.State.Status}}' lab-postgres";
    await stopDatabase(s, host(s, "nas-1"));
    expect((await on("nas-1", "deploy", ps)).stdout).toBe("exited");
    await stopDatabase(s, host(s, "nas-1"), false);
    expect((await on("nas-1", "deploy", `${ps}; sudo -n /usr/local/bin/docker exec lab-postgres psql -U postgres -d app -Atc 'select 1'`)).stdout).toBe("running\n1");
  });

  it("reboots a host and waits until ssh (same pinned key) and systemd are back", async () => {
    const s = lab();
    const h = host(s, "droplet-2");
    await on(h.name, "root", "echo kept > /srv/marker"); // /srv survives a reboot, /run does not
    const t0 = Date.now();
    await reboot(s, h);
    console.log(`reboot of ${h.name}: ${Date.now() - t0} ms`);
    const r = await on(h.name, "root", "systemctl is-system-running; cat /srv/marker; rm /srv/marker");
    expect(r.stdout).toBe("running\nkept");
  });
});
