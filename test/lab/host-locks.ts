// The lab's test files run several at a time (vitest.config.ts); each holds the lab hosts it
// changes for as long as it runs, so that two files never work on one host at once. A lock is a
// directory (mkdir is atomic) with its holder's pid; a file takes all of its hosts at once or none
// (so no two files can wait for each other, and no file sits on a host while waiting for another),
// and a holder that died (kill -9 of a worker) is recognised by its pid and its lock taken over. "*" holds the whole lab: for the files
// that boot labs of their own or measure timings that other files' load would disturb.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";

const DIR = path.join(os.tmpdir(), "slipway-lab-locks");
/** every lock a file can take: the lab's hosts (2 droplets and a NAS in the shared lab) */
export const LAB_HOSTS = ["droplet-1", "droplet-2", "nas-1"] as const;
type LabHost = (typeof LAB_HOSTS)[number];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

function tryTake(host: string): boolean {
  const lock = path.join(DIR, host);
  try {
    mkdirSync(lock);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    let holder = NaN;
    try {
      holder = Number(readFileSync(path.join(lock, "pid"), "utf8"));
    } catch {
      return false; // being written: its holder is alive
    }
    if (!Number.isFinite(holder) || alive(holder)) return false;
    rmSync(lock, { recursive: true, force: true }); // a dead holder's lock
    return tryTake(host);
  }
  writeFileSync(path.join(lock, "pid"), String(process.pid));
  return true;
}

/** Waits until this process holds every one of `hosts` at once; returns the release. */
export async function takeHosts(hosts: readonly string[], log = (m: string) => console.log(m)): Promise<() => void> {
  mkdirSync(DIR, { recursive: true });
  const wanted = [...new Set(hosts)].sort();
  const release = (held: string[]) => held.forEach((h) => rmSync(path.join(DIR, h), { recursive: true, force: true }));
  const t0 = Date.now();
  for (let said = false; ; said = true) {
    // all or nothing: a file never sits on one host while it waits for another
    const held: string[] = [];
    for (const h of wanted) {
      if (!tryTake(h)) break;
      held.push(h);
    }
    if (held.length === wanted.length) {
      if (said) log(`lab hosts ${wanted.join(", ")} held after ${Math.round((Date.now() - t0) / 1000)} s`);
      return () => release(held);
    }
    release(held);
    if (!said) log(`waiting for lab hosts ${wanted.join(", ")} (other test files hold some of them)`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** For a lab test file: hold these hosts ("*": all of them) from before its first hook to after its last. Call it first. */
export function holdHosts(...hosts: (LabHost | "*")[]): void {
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await takeHosts(hosts.includes("*") ? LAB_HOSTS : hosts);
  }, 3_600_000);
  afterAll(() => release?.());
}
