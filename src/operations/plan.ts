// The plan: a pure description of what an environment makes slipway do on which host. Printed by
// `slipway plan`, and (as the operations land) extended with diffs for the PR comment.
import { durationMs, type Environment } from "../config/schema.js";

export interface HostPlan {
  host: string;
  login: string;
  steps: string[];
}

export function buildPlan(env: Environment): HostPlan[] {
  return Object.entries(env.hosts).map(([name, h]) => {
    const steps: string[] = [];
    for (const [db, d] of Object.entries(env.databases)) {
      const here = d.on?.host === name || (d.engine === "postgres" && d.via === name);
      if (!here) continue;
      const container = d.engine === "postgres" ? d.on?.container : undefined;
      const where = container ? ` in container ${container}` : d.engine === "postgres" && d.via ? " through a tunnel" : "";
      if (d.backup) steps.push(`back up ${d.engine} database ${db}${where} (keep ${d.backup.keep}, verify: ${d.backup.verify})`);
      if (d.migrations) steps.push(`apply ${d.migrations.engine} migrations from ${d.migrations.dir} to ${db}${where}`);
    }
    for (const [svc, s] of Object.entries(env.services)) {
      if (!s.hosts.includes(name)) continue;
      const what =
        s.kind === "systemd"
          ? `systemd unit ${s["unit-name"] ?? `${svc}.service`}${s["unit-file"] ? ` from ${s["unit-file"]}` : ""}`
          : s.kind === "supervisor"
            ? `supervisor group ${s.group ?? svc} (${Object.keys(s.programs).length} programs)`
            : `compose project ${s.project ?? svc} (${s.files.join(", ")}, ${s.strategy})`;
      steps.push(`deploy ${what} into ${s["deploy-to"]}/releases, switch ${s["deploy-to"]}/current`);
      if (s.kind === "systemd" && s["replaces-cron"]) steps.push(`remove ${s["replaces-cron"].user}'s crontab entry matching '${s["replaces-cron"].match}'`);
      if (s.logrotate) steps.push(`install logrotate config for ${s.logrotate.paths.join(", ")}`);
    }
    const checks = env.checks.filter((c) => c.from === name || c.hosts?.includes(name)).length;
    if (checks) steps.push(`run ${checks} health check${checks > 1 ? "s" : ""}`);
    return { host: name, login: `${h.user}@${h.address}:${h.port}${h.jump ? ` via ${h.jump}` : ""}${h.sudo ? " (sudo)" : ""}`, steps };
  });
}

export function formatPlan(name: string, env: Environment): string {
  const lines = [`Plan for environment ${name}:`];
  for (const p of buildPlan(env)) {
    lines.push(`  ${p.host}  ${p.login}`);
    lines.push(...(p.steps.length ? p.steps.map((s) => `    - ${s}`) : ["    (nothing to do)"]));
  }
  const runnerChecks = env.checks.filter((c) => !c.from && !c.hosts).length;
  if (runnerChecks) lines.push(`  runner: ${runnerChecks} health check${runnerChecks > 1 ? "s" : ""}`);
  const p = env.policy;
  lines.push(
    `  policy: keep ${p["keep-releases"]} releases, auto-rollback ${p["auto-rollback"] ? "on" : "off"}, backup before migrate ${p["backup-before-migrate"] ? "required" : "optional"}, rollout ${p.rollout.mode}` +
      `${p["maintenance-window"] ? `, window ${p["maintenance-window"]}` : ""}, lock expiry ${durationMs(p.lock.expiry) / 60000} min`,
  );
  return lines.join("\n");
}
