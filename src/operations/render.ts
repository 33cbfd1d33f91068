// `slipway render`: every file a deploy would install, written without any SSH, for review on a
// pull request and as the basis of the value-safety tests. The writers are the deploy's own; only
// secret values are replaced by a placeholder (a rendering is never a place for a secret).
import type { Environment, Service } from "../config/schema.js";
import { envFileText, releasePaths } from "../commands/release.js";
import { confPath, groupName, renderPrograms } from "../commands/supervisor.js";
import { installedUnitPath, logrotatePath, logrotateText, removeCronScript, renderTimer, renderUnit, STAGED, timerName, unitName } from "../commands/systemd.js";
import { composeEnvText } from "./compose.js";

export interface RenderedFile {
  host: string;
  service: string;
  /** absolute path on the host, or a name under _slipway/ for what is a command, not a file */
  path: string;
  /** file mode the deploy gives it */
  mode: number;
  text: string;
  what: string;
}

/** The placeholder a secret value is rendered as. */
export const secretPlaceholder = (name: string) => `<secret ${name}>`;

/** The environment a service's files are rendered with: its env, and a placeholder per secret. */
function renderEnv(s: Service): Record<string, string> {
  return { ...s.env, ...Object.fromEntries(Object.entries(s["secret-env"]).map(([k, secret]) => [k, secretPlaceholder(secret)])) };
}

/** Every file a deploy of `env` installs, per host and service (filtered by service and host). */
export function renderEnvironment(env: Environment, o: { service?: string; host?: string; release?: string } = {}): RenderedFile[] {
  const release = o.release ?? "RELEASE";
  const files: RenderedFile[] = [];
  const unknown = [o.service && !(o.service in env.services) ? `service ${o.service} (services: ${Object.keys(env.services).join(", ") || "none"})` : "", o.host && !(o.host in env.hosts) ? `host ${o.host} (hosts: ${Object.keys(env.hosts).join(", ")})` : ""].filter(Boolean);
  if (unknown.length) throw new Error(`no ${unknown.join(" and no ")} in this environment`);
  for (const [name, s] of Object.entries(env.services)) {
    if (o.service && o.service !== name) continue;
    const p = releasePaths(s["deploy-to"], release);
    const vars = renderEnv(s);
    const hasEnv = Object.keys(vars).length > 0;
    const own: Omit<RenderedFile, "host" | "service">[] = [];
    const perHost: ((host: string) => Omit<RenderedFile, "host" | "service">)[] = [];
    if (s.kind === "systemd") {
      if (s["unit-file"]) own.push({ path: installedUnitPath(unitName(name, s)), mode: 0o644, text: `# ${s["unit-file"]} of the release, installed as it is\n`, what: "systemd unit (from the release)" });
      else own.push({ path: installedUnitPath(unitName(name, s)), mode: 0o644, text: renderUnit(name, s, p, hasEnv), what: "systemd unit" });
      const timer = renderTimer(name, s);
      if (timer) own.push({ path: installedUnitPath(timerName(name, s)), mode: 0o644, text: timer, what: "systemd timer" });
      if (hasEnv) own.push({ path: `${p.release}/${STAGED}/env`, mode: 0o600, text: envFileText(vars), what: "EnvironmentFile" });
      const cron = s["replaces-cron"];
      if (cron)
        perHost.push((host) => ({ path: `_slipway/crontab-edit-${name}.sh`, mode: 0o644, text: `# run by the deploy once the service is up: removes ${cron.user}'s crontab lines containing the match\nslipway_cron_removed=()\n${removeCronScript({ ...cron, sudo: env.hosts[host]?.sudo ?? false })}\n`, what: "crontab edit" }));
    } else if (s.kind === "supervisor") {
      own.push({ path: confPath(s, groupName(name, s)), mode: 0o600, text: renderPrograms(name, s, p, vars), what: "supervisor programs" });
    } else {
      if (hasEnv) own.push({ path: `${p.release}/.env`, mode: 0o600, text: composeEnvText(vars), what: "compose .env" });
    }
    const logrotate = logrotateText(s);
    if (logrotate) own.push({ path: logrotatePath(name), mode: 0o644, text: logrotate, what: "logrotate" });
    for (const host of s.hosts) if (!o.host || o.host === host) files.push(...[...own, ...perHost.map((f) => f(host))].map((f) => ({ host, service: name, ...f })));
  }
  return files;
}
