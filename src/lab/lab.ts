// up / down / status of the lab. State: .lab (lab.json, lab.yml, known_hosts, keys, hosts/<name>).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { environmentYaml, knownHostsText } from "./envfile.js";
import { hostSpecs, prepareHost, startHost, waitReady } from "./host.js";
import { ensureImage } from "./image.js";
import { labDir } from "./paths.js";
import { leftovers, teardown } from "./cleanup.js";
import { pidAlive, run } from "./run.js";
import { ssh } from "./ssh.js";
import { readState, writeState, type LabState } from "./state.js";
import { wanUp } from "./wan.js";

export interface UpOptions {
  droplets?: number;
  nas?: number;
  wanDelayMs?: number;
  log?: (s: string) => void;
}

async function clientKey(dir: string): Promise<string> {
  const key = path.join(dir, "keys", "id_ed25519");
  if (!existsSync(key)) {
    mkdirSync(path.dirname(key), { recursive: true, mode: 0o700 });
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "slipway-lab-client", "-f", key]);
  }
  return key;
}

export async function up(o: UpOptions = {}): Promise<LabState> {
  const log = o.log ?? (() => {});
  const dir = labDir();
  const specs = hostSpecs(o.droplets ?? 2, o.nas ?? 1);
  const t0 = Date.now();
  // recover from a lab that was killed without `down` (or replace a running one)
  const stale = await leftovers(dir);
  if (stale.length || existsSync(path.join(dir, "lab.json"))) {
    log(`removing a previous lab (${stale.length} leftovers)`);
    await teardown(dir, log);
  }
  const tRecover = Date.now();
  const img = await ensureImage(log);
  const tImage = Date.now();
  mkdirSync(dir, { recursive: true });
  const key = await clientKey(dir);
  const pub = readFileSync(`${key}.pub`, "utf8");

  const state: LabState = {
    version: 1,
    createdAt: new Date().toISOString(),
    labDir: dir,
    imageKey: img.key,
    clientKey: key,
    knownHosts: path.join(dir, "known_hosts"),
    envFile: path.join(dir, "lab.yml"),
    hosts: [],
    wan: null,
    databases: [],
    timings: {},
  };
  try {
    state.hosts = await Promise.all(specs.map((s) => prepareHost(dir, s, img, pub)));
    writeFileSync(state.knownHosts, knownHostsText(state));
    for (const h of state.hosts) startHost(h, img);
    writeState(state); // pids are known now: a failed `up` can be taken down
    const ready = await Promise.all(state.hosts.map((h) => waitReady(state, h)));
    state.hosts.forEach((h, i) => (state.timings[`ready:${h.name}`] = ready[i]!));
    if (o.wanDelayMs !== undefined) state.wan = await wanUp(dir, o.wanDelayMs);
    const d1 = state.hosts.find((h) => h.kind === "droplet");
    const n1 = state.hosts.find((h) => h.kind === "nas");
    if (d1) state.databases.push({ name: "droplet-app", host: d1.name, database: "app", user: "deploy" });
    if (n1) state.databases.push({ name: "nas-app", host: n1.name, container: "lab-postgres", database: "app", user: "postgres" });
  } catch (e) {
    writeState(state);
    throw e;
  }
  state.timings.recoverMs = tRecover - t0;
  state.timings.imageMs = tImage - tRecover;
  state.timings.imageBuiltSeconds = img.builtSeconds;
  state.timings.upMs = Date.now() - t0;
  writeFileSync(state.envFile, environmentYaml(state));
  writeState(state);
  return state;
}

export async function down(log: (s: string) => void = () => {}): Promise<number> {
  const t0 = Date.now();
  await teardown(labDir(), log);
  return Date.now() - t0;
}

export interface HostStatus {
  name: string;
  address: string;
  process: boolean;
  system: string;
}

/** Is the lab up: lab.json present, every host's process alive and answering ssh? */
export async function status(): Promise<{ up: boolean; state?: LabState; hosts: HostStatus[] }> {
  const state = readState();
  if (!state) return { up: false, hosts: [] };
  const hosts = await Promise.all(
    state.hosts.map(async (h) => {
      const alive = h.pid > 0 && pidAlive(h.pid);
      const r = alive ? await ssh(state, h, "root", "systemctl is-system-running", { timeoutMs: 10_000 }) : undefined;
      return { name: h.name, address: h.address, process: alive, system: r ? r.stdout.trim() || `ssh exit ${r.code}` : "down" };
    }),
  );
  return { up: hosts.every((h) => h.process && h.system === "running"), state, hosts };
}
