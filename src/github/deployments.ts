// What slipway reads back from GitHub deployments: its own payload (release, hosts, rollback) and the
// commit a deployment put live. GitHub's own deployments (e.g. an environment's job) carry none.
import type { Deployment } from "./client.js";

/** slipway's payload of a deployment, or undefined for a deployment slipway did not create */
export const slipwayPayload = (p: unknown) => (p && typeof p === "object" ? (p as { release?: unknown; rollback?: unknown }) : undefined);

/** The commit a deployment put live: its sha, or for a rollback the commit in the release id it returned to. */
export function expectedCommit(d: Deployment): string {
  const p = slipwayPayload(d.payload);
  if (p?.rollback === true && typeof p.release === "string") return /-([0-9a-f]{7,40})$/.exec(p.release)?.[1] ?? p.release;
  return d.sha;
}
