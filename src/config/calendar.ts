// OnCalendar= values checked by systemd's own parser (`systemd-analyze calendar`) at validate time,
// so that a timer systemd would refuse is an error at file:line:col, not a failed deploy. Where
// systemd-analyze is missing (a laptop without systemd) the check is skipped: the deploy's
// `systemd-analyze verify` on the host still stops such a timer before anything is installed.
import { spawnSync } from "node:child_process";

let available: boolean | undefined;
const cache = new Map<string, string | undefined>();

/** Why systemd would refuse `value` as a calendar event, or undefined when it accepts it (or cannot be asked). */
export function calendarProblem(value: string): string | undefined {
  available ??= spawnSync("systemd-analyze", ["--version"], { stdio: "ignore" }).status === 0;
  if (!available) return undefined;
  if (!cache.has(value)) {
    const r = spawnSync("systemd-analyze", ["calendar", "--", value], { encoding: "utf8", timeout: 10_000 });
    cache.set(value, r.status === 0 ? undefined : `systemd cannot read this calendar event (${(r.stderr.trim().split("\n")[0] ?? "").replace(/^Failed to parse calendar specification '.*': /s, "") || `systemd-analyze calendar exit ${r.status}`}); e.g. '*:0/5', 'daily' or 'Mon..Fri 09:00 Europe/Berlin' (man systemd.time)`);
  }
  return cache.get(value);
}
