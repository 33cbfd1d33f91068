// `slipway drift <env> [--sha sha]`: what is live on each host (<deploy-to>/current and its ledger
// entry) against the desired state. Problems: a host with no live release, a live release the
// ledger does not record as a success, hosts of one service running different commits, and (with
// --sha) a live commit other than the expected one. Each is printed as a readable diff.
import type { Environment } from "../config/schema.js";
import type { RemotePool } from "../remote/pool.js";
import { releaseCommit } from "../commands/release.js";
import { releaseStatus, type HostStatus } from "./deploy.js";

export interface DriftTarget {
  service: string;
  host: string;
  /** the host's status, or why it could not be read */
  status: HostStatus | Error;
}

export interface LiveRelease {
  release: string;
  sha?: string;
  actor?: string;
  time?: string;
}

/** Every (service, host) of the environment (or of one service) with its status, or why it could not be read. */
export async function driftTargets(env: Environment, pool: RemotePool, o: { service?: string; hosts?: string[] } = {}): Promise<DriftTarget[]> {
  const pairs = Object.entries(env.services).flatMap(([name, s]) => (o.service && o.service !== name ? [] : s.hosts.filter((h) => !o.hosts || o.hosts.includes(h)).map((host) => ({ name, host, deployTo: s["deploy-to"] }))));
  return Promise.all(pairs.map(async (t) => ({ service: t.name, host: t.host, status: await pool.get(t.host).then((r) => releaseStatus(r, t.name, t.deployTo, 50)).catch((e: Error) => e) })));
}

/** The live release and its commit: the ledger's success entry for `current`, else the sha in the release id. */
export function liveRelease(st: HostStatus): LiveRelease | undefined {
  if (!st.current) return undefined;
  const entry = [...st.history].reverse().find((e) => e.release === st.current && e.outcome === "success");
  if (entry) return { release: st.current, sha: String(entry.sha ?? ""), actor: entry.actor as string | undefined, time: entry.time as string | undefined };
  return { release: st.current, sha: releaseCommit(st.current) };
}

const sameCommit = (a: string, b: string) => a.length >= 7 && b.length >= 7 && (a.startsWith(b) || b.startsWith(a));
const short = (sha?: string) => (sha ? sha.slice(0, 12) : "unknown");

export function driftReport(environment: string, targets: DriftTarget[], expectedSha?: string): { text: string; problems: number } {
  const lines = [`drift: environment ${environment}${expectedSha ? `, expected commit ${short(expectedSha)}` : ", no expected commit (checking that every host runs a recorded release and hosts agree)"}`];
  const diffs: string[] = [];
  const problem = (where: string, expected: string, live: string) => diffs.push(`@@ ${where} @@\n- ${expected}\n+ ${live}`);
  const width = Math.max(...targets.map((t) => `${t.host}  ${t.service}`.length), 0);
  const shasByService = new Map<string, Map<string, string[]>>();
  for (const t of targets) {
    const where = `${t.host} ${t.service}`;
    const label = `${t.host}  ${t.service}`.padEnd(width);
    if (t.status instanceof Error) {
      lines.push(`  ${label}  UNREACHABLE`);
      problem(where, "a reachable host", `cannot read its release: ${t.status.message.split("\n")[0]}`);
      continue;
    }
    for (const d of t.status.damaged ?? []) lines.push(`  ${label}  note: ${t.status.ledger} line ${d.line} is damaged and was skipped (${d.why})`);
    const live = liveRelease(t.status);
    const lock = t.status.lock ? `  (deploy in progress: locked by ${t.status.lock})` : "";
    if (!live) {
      lines.push(`  ${label}  NOTHING LIVE${lock}`);
      problem(where, expectedSha ? `commit ${short(expectedSha)} live` : "a live release", "no live release (<deploy-to>/current is missing)");
      continue;
    }
    const recorded = t.status.history.some((e) => e.release === live.release && e.outcome === "success");
    const drifted = expectedSha !== undefined && !(live.sha && sameCommit(live.sha, expectedSha));
    lines.push(`  ${label}  live ${live.release}  commit ${short(live.sha)}${live.actor ? `  by ${live.actor}` : ""}${live.time ? ` at ${live.time}` : ""}  ${drifted || !recorded ? "DRIFT" : "ok"}${lock}`);
    if (!recorded) problem(where, `release ${live.release} recorded as a success in the ledger`, "no success entry in <deploy-to>/_slipway/ledger.jsonl (switched by hand, or the ledger was cut?)");
    if (drifted) problem(where, `commit ${short(expectedSha)}`, `commit ${short(live.sha)} (release ${live.release}${live.actor ? `, deployed by ${live.actor}` : ""}${live.time ? ` at ${live.time}` : ""})`);
    const bySha = shasByService.get(t.service) ?? new Map<string, string[]>();
    bySha.set(live.sha ?? "unknown", [...(bySha.get(live.sha ?? "unknown") ?? []), t.host]);
    shasByService.set(t.service, bySha);
  }
  for (const [service, bySha] of shasByService)
    if (bySha.size > 1) {
      const [first, ...rest] = [...bySha];
      problem(`${service}: hosts disagree`, `commit ${short(first![0])} on ${first![1].join(", ")}`, rest.map(([sha, hosts]) => `commit ${short(sha)} on ${hosts.join(", ")}`).join("; "));
    }
  if (diffs.length) lines.push("", "--- desired", "+++ live", ...diffs, "", `drift: ${diffs.length} problem${diffs.length === 1 ? "" : "s"} in ${environment}`);
  else lines.push(`drift: none in ${environment} (${targets.length} service host${targets.length === 1 ? "" : "s"})`);
  return { text: lines.join("\n"), problems: diffs.length };
}
