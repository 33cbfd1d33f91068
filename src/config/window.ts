// policy.maintenance-window ('02:00-04:00 UTC', seed 003): deploys and migrations that change
// something happen only inside it. A window may cross midnight ('23:30-00:30 UTC'). Rollbacks,
// backups and checks are not limited: putting things back must always be possible.
import type { Policy } from "./schema.js";

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export function insideWindow(window: string, now: Date): boolean {
  const [from, to] = window.replace(/ UTC$/, "").split("-") as [string, string];
  const t = now.getUTCHours() * 60 + now.getUTCMinutes();
  const a = minutes(from);
  const b = minutes(to);
  return a <= b ? t >= a && t < b : t >= a || t < b;
}

/** Throws when `what` would happen outside the environment's maintenance window. */
export function requireWindow(policy: Policy, file: string, what: string, now = new Date()): void {
  const w = policy["maintenance-window"];
  if (!w || insideWindow(w, now)) return;
  const hhmm = now.toISOString().slice(11, 16);
  throw new Error(
    `refusing to ${what}: it is ${hhmm} UTC, outside the maintenance window ${w} of ${file} (policy.maintenance-window). ` +
      `Run it again inside the window; a rollback is allowed at any time.`,
  );
}
