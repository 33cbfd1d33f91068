// What slipway reads back from GitHub deployments: its own payload (release, hosts, rollback) and the
// commit a deployment put live. GitHub's own deployments (e.g. an environment's job) carry none.
import { releaseCommit } from "../commands/release.js";
import type { Deployment, GitHubClient } from "./client.js";

/** slipway's payload of a deployment, or undefined for a deployment slipway did not create */
export const slipwayPayload = (p: unknown) => (p && typeof p === "object" ? (p as { release?: unknown; rollback?: unknown }) : undefined);

/** The commit a deployment put live: its sha, or for a rollback the commit in the release id it returned to. */
export function expectedCommit(d: Deployment): string {
  const p = slipwayPayload(d.payload);
  if (p?.rollback === true && typeof p.release === "string") return releaseCommit(p.release) ?? p.release;
  return d.sha;
}

/** The environment's newest deployment made by slipway (its payload names a release) whose latest status is success. */
export const lastSlipwayDeployment = (client: GitHubClient, environment: string) =>
  client.lastSuccessfulDeployment(environment, "deploy", (d) => typeof slipwayPayload(d.payload)?.release === "string");
