// deploy-compose on one host, on the release model of deploy-systemd: lock, upload the release,
// write .env, validate the compose files, build/pull and pin every image by id, bring the database
// service up first (migrations run against it), switch `current`, `up -d --remove-orphans` and wait
// until every service is running and healthy. A stack that does not come up is replaced by the
// previous release's files and pinned images; an unchanged stack is detected and left alone.
import { createHash } from "node:crypto";
import { parse } from "yaml";
import { dotenvLine } from "../commands/dotenv.js";
import { withHeredoc } from "../commands/postgres.js";
import { sh } from "../commands/quote.js";
import {
  composeArgs, composeCommand, composeConfigScript, detectComposeScript, imageOverride, prepareImagesScript, privateFileScript, pruneImagesScript, releaseImageTag, waitHealthyScript, type ComposeCommand,
} from "../commands/compose.js";
import { linkSharedScript, pruneReleasesScript, releaseLockScript, releasePaths, switchCurrentScript, type ReleasePaths } from "../commands/release.js";
import { STAGED } from "../commands/systemd.js";
import type { Service } from "../config/schema.js";
import type { Remote } from "../remote/connection.js";
import { DeployError, failureState, lock, marks, recordLedger, stepTimer, uploadRelease, type DeployRequest, type HostDeployResult } from "./deploy.js";

export type ComposeService = Extract<Service, { kind: "compose" }>;

export interface ComposeDeployRequest extends Omit<DeployRequest, "service" | "driver"> {
  service: ComposeService;
  commands: { docker?: string; compose?: string };
  timeoutSec: number;
  stabilizeSec: number;
  /** runs after the database service is healthy and before the app services change (apply-migrations) */
  migrate?: (remote: Remote, o: { databaseCreated: boolean; container: string }) => Promise<Record<string, unknown> | void>;
}

export interface ComposeDeployResult extends HostDeployResult {
  /** per compose service: the image id now running */
  digests: Record<string, string>;
  compose: string;
}

interface StackService {
  image?: string;
  build: boolean;
}

/** What `compose config` says the stack is. */
export function parseComposeConfig(text: string, source: string): Record<string, StackService> {
  let doc: { services?: Record<string, { image?: string; build?: unknown }> };
  try {
    doc = parse(text) as typeof doc;
  } catch (e) {
    throw new Error(`cannot read the output of compose config for ${source}: ${(e as Error).message}`);
  }
  const services = doc?.services ?? {};
  if (Object.keys(services).length === 0) throw new Error(`${source} defines no services`);
  return Object.fromEntries(
    Object.entries(services).map(([name, s]) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`compose service name ${JSON.stringify(name)} in ${source} is not supported`);
      if (!s.build && !s.image) throw new Error(`compose service ${name} in ${source} has neither image: nor build:`);
      return [name, { image: s.image, build: s.build !== undefined }];
    }),
  );
}

/** The compose .env: each value in a form compose v1 and v2 both read as is (src/commands/dotenv.ts); throws naming the variable, never its value. */
export function composeEnvText(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => dotenvLine(k, v) + "\n").join("");
}

const sha256 = (...parts: string[]) => createHash("sha256").update(parts.join("\0")).digest("hex");

export async function deployComposeHost(remote: Remote, req: ComposeDeployRequest): Promise<ComposeDeployResult> {
  const s = req.service;
  const p = releasePaths(s["deploy-to"], req.releaseId);
  const project = s.project ?? req.serviceName;
  const staged = `${p.release}/${STAGED}`;
  const { steps, timed } = stepTimer();
  // a secret that no .env quoting carries is refused before anything changes on the host
  const envText = Object.keys(req.env).length ? composeEnvText(req.env) : undefined;
  // 1. lock, and find docker compose on the host in the same exec
  const locked = await timed("lock", () => lock(remote, p, req, detectComposeScript(req.commands)));
  const previous = locked.previous;
  const c = composeCommand((m) => marks(locked.stdout, m)[0]);
  const prev = previous ? releasePaths(s["deploy-to"], previous) : undefined;
  const args = (dir: string, overrides: string[] = []) => composeArgs(c, { project, dir, files: s.files, overrides });
  let switched = false;
  let deployed = false;
  let unlocked = false;
  try {
    // 2. the release files, then .env, shared links and the stack as compose reads it
    const artifact = await timed("upload", () => uploadRelease(remote, req.source, p));
    // the same files, environment, compose and settings as the live release: compose would read
    // the same stack, so `compose config` (a slow python start with v1) is skipped
    const inputs = sha256(artifact, envText ?? "", c.compose.join(" "), JSON.stringify(s));
    const config = composeConfigScript(args(p.release), { dir: p.release, staged, files: s.files });
    const prevInputs = prev ? `${prev.release}/${STAGED}/inputs.sha256` : "/nonexistent";
    const stage = await timed("stage", () =>
      remote.run(
        sh`mkdir -p ${staged}
${linkSharedScript(p, s.shared)}
${envText ? privateFileScript(`${p.release}/.env`, envText) : sh`:`}
if [ "$(cat ${prevInputs} 2>/dev/null)" = ${inputs} ]; then echo slipway:same-inputs; else
${config}
fi
${prev ? sh`echo "slipway:previous-images $(cat ${`${prev.release}/${STAGED}/images`} 2>/dev/null | tr '\\n' ' ')"
echo "slipway:live $(${c.docker} ps -q --filter ${`label=com.docker.compose.project=${project}`} | xargs -r ${c.docker} inspect -f '{{index .Config.Labels "com.docker.compose.service"}}={{.Image}}/{{.State.Status}}/{{if index .State "Health"}}{{.State.Health.Status}}{{else}}none{{end}}' | tr '\\n' ' ')"` : sh`:`}`,
        { step: "stage compose release", quiet: true, check: false },
      ),
    );
    const failed = (r: { stderr: string }) => new DeployError(remote.name, `[${remote.name}] ${r.stderr.trim().split("\n").slice(-22).join("\n")}`, false);
    if (stage.code !== 0) throw failed(stage);

    // 3. unchanged: the same inputs as the live release, whose pinned images all run healthy
    const prevImages = Object.fromEntries((marks(stage.stdout, "previous-images")[0] ?? "").split(/\s+/).filter(Boolean).map((e) => e.split("=") as [string, string]));
    const live = Object.fromEntries((marks(stage.stdout, "live")[0] ?? "").split(/\s+/).filter(Boolean).map((e) => e.split("=") as [string, string]));
    const liveOk = Object.keys(prevImages).length > 0 && Object.entries(prevImages).every(([svc, id]) => new RegExp(`^${id}/running/(healthy|none)$`).test(live[svc] ?? ""));
    if (previous && marks(stage.stdout, "same-inputs").length && liveOk) {
      req.log.info(`[${remote.name}] ${project}: nothing changed since release ${previous} (same files, environment and images, all running); left as it is`);
      deployed = true;
      await recordLedger(remote, p, req, { outcome: "unchanged", kind: "compose", previous, release: previous, requested: req.releaseId, digests: prevImages }, true, sh`rm -rf ${p.release}`);
      unlocked = true;
      return { host: remote.name, releaseId: previous, previous, changed: false, unitChanged: false, artifactSha256: artifact, steps, execs: remote.execCount, digests: prevImages, compose: c.compose.join(" ") };
    }
    let configOut = stage.stdout;
    if (marks(stage.stdout, "same-inputs").length) {
      const again = await timed("config", () => remote.run(config, { step: "compose config", quiet: true, check: false }));
      if (again.code !== 0) throw failed(again);
      configOut = again.stdout;
    }
    const lines = configOut.split("\n");
    const configText = Buffer.from(lines[lines.indexOf("slipway:config") + 1] ?? "", "base64").toString("utf8");
    const stack = parseComposeConfig(configText, `${s.files.join(", ")} (release ${req.releaseId})`);

    // 4. images: build (tagged with the release tag), pull what is missing, pin every id;
    // then the database service first, healthy, before anything else changes
    const build = Object.entries(stack).filter(([, v]) => v.build).map(([k]) => k);
    const pull = Object.entries(stack).filter(([, v]) => !v.build).map(([k, v]) => ({ service: k, image: v.image! }));
    const buildOverride = `${staged}/compose.build.yml`;
    const pinned = `${staged}/compose.pinned.yml`;
    const db = s["database-service"];
    if (db && !stack[db]) throw new DeployError(remote.name, `[${remote.name}] database-service ${db} is not a service of ${s.files.join(", ")} (services: ${Object.keys(stack).join(", ")})`, false);
    const buildTags = Object.fromEntries(build.map((svc) => [svc, releaseImageTag(project, svc, req.releaseId)]));
    const images = await timed("images", () =>
      remote.run(
        sh`cd ${p.release}
${build.length ? withHeredoc(sh`cat > ${buildOverride}`, imageOverride(buildTags)) : sh`:`}
${prepareImagesScript(c, { buildArgs: args(p.release, [buildOverride]), plan: { build, pull, pullPolicy: s.pull }, project, releaseId: req.releaseId })}`,
        { step: "build and pull images", quiet: true, check: false, timeoutMs: 30 * 60_000 },
      ),
    );
    if (images.code !== 0) throw new DeployError(remote.name, `[${remote.name}] images for release ${req.releaseId}: ${images.stderr.trim().split("\n").slice(-40).join("\n")}`, false);
    const digests: Record<string, string> = {};
    const repoDigests: Record<string, string> = {};
    for (const line of marks(images.stdout, "image")) {
      const [svc, id, repo] = line.split(" ");
      digests[svc!] = id!;
      if (repo) repoDigests[svc!] = repo;
    }
    const up = (dir: string, pinnedFile: string, services: string[] = []) => sh`${composeArgs(c, { project, dir, files: s.files, overrides: [pinnedFile] })} up -d --remove-orphans ${services.length ? sh`--no-deps ${services}` : sh``} 2>&1 | tail -n 30 >&2; [ "\${PIPESTATUS[0]}" = 0 ] || { echo "compose up failed (its output is above)" >&2; exit 1; }`;
    const pin = await timed(db ? "pin+database" : "pin", () =>
      remote.run(
        sh`cd ${p.release}
${withHeredoc(sh`cat > ${pinned}`, imageOverride(digests))}
printf '%s\\n' ${Object.entries(digests).map(([k, v]) => `${k}=${v}`)} > ${`${staged}/images`}
${privateFileScript(`${staged}/inputs.sha256`, `${inputs}\n`)}
${db ? sh`[ -n "$(${c.docker} ps -aq --filter ${`label=com.docker.compose.project=${project}`} --filter ${`label=com.docker.compose.service=${db}`})" ] || echo slipway:database-created
${up(p.release, pinned, [db])}
${waitHealthyScript(c, { project, services: { [db]: digests[db]! }, timeoutSec: req.timeoutSec, windowSec: 0 })}
echo "slipway:database-container $(${c.docker} ps --filter ${`label=com.docker.compose.project=${project}`} --filter ${`label=com.docker.compose.service=${db}`} --format '{{.Names}}' | head -n 1)"` : sh`:`}`,
        { step: db ? `start database service ${db}` : "pin images", quiet: true, check: false, timeoutMs: (req.timeoutSec + 120) * 1000 },
      ),
    );
    if (pin.code !== 0) throw new DeployError(remote.name, `[${remote.name}] database service ${db} did not become healthy:\n${pin.stderr.trim().split("\n").slice(-60).join("\n")}`, false);
    const databaseCreated = marks(pin.stdout, "database-created").length > 0;
    const container = marks(pin.stdout, "database-container")[0];
    const migration = req.migrate && container ? await timed("migrate", () => req.migrate!(remote, { databaseCreated, container })) : undefined;

    // 5. switch and bring the stack up (recreate: the old app services stop first), wait healthy
    const appServices = Object.keys(stack).filter((svc) => svc !== db);
    const stopOld = s.strategy === "recreate" && prev ? sh`${composeArgs(c, { project, dir: prev.release, files: s.files, overrides: [`${prev.release}/${STAGED}/compose.pinned.yml`] })} stop ${appServices} >&2 || true` : sh`:`;
    const go = await timed("switch+up", () =>
      remote.run(
        sh`echo slipway:switching
${switchCurrentScript(p, req.releaseId)}
${stopOld}
cd ${p.release}
${up(p.release, pinned)}
${waitHealthyScript(c, { project, services: digests, timeoutSec: req.timeoutSec, windowSec: req.stabilizeSec })}`,
        { step: `compose up ${project}`, quiet: true, check: false, timeoutMs: (req.timeoutSec + req.stabilizeSec + 300) * 1000 },
      ),
    );
    switched = marks(go.stdout, "switching").length > 0;
    if (go.code !== 0) throw new DeployError(remote.name, `[${remote.name}] ${project} release ${req.releaseId} did not come up healthy:\n${go.stderr.trim().split("\n").slice(-80).join("\n")}`, false);
    deployed = true;

    // 6. prune old releases and their images (never the current or the previous one), ledger, unlock
    const keepIds = [req.releaseId, ...(previous ? [previous] : [])];
    await timed("finish", () => remote.run(sh`${pruneReleasesScript(p, req.keep, previous)}\n${pruneImagesScript(c, { project, keepReleases: keepIds, keep: s["keep-images"] })}`, { step: "prune", quiet: true, check: false }));
    const configSha256 = createHash("sha256").update(imageOverride(digests)).digest("hex");
    await recordLedger(remote, p, req, { outcome: "success", kind: "compose", previous, project, compose: c.compose.join(" "), composeVersion: c.version, digests, repoDigests, configSha256, artifactSha256: artifact, ...req.notes, ...migration }, true);
    unlocked = true;
    return { host: remote.name, releaseId: req.releaseId, previous, changed: true, unitChanged: true, artifactSha256: artifact, steps, execs: remote.execCount, digests, compose: c.compose.join(" ") };
  } catch (e) {
    const reason = (e as Error).message;
    let restored = false;
    if (switched && !deployed)
      restored = await restoreStack(remote, req, c, p, prev).catch((r: Error) => {
        req.log.error(`[${remote.name}] restoring ${previous ?? "the previous release"} failed too: ${r.message}`);
        return false;
      });
    unlocked = await recordLedger(remote, p, req, { outcome: "failed", kind: "compose", previous, error: reason.slice(0, 4000), restored }, true, switched ? undefined : sh`rm -rf ${p.release}`).then(
      () => true,
      () => false,
    );
    throw new DeployError(remote.name, `${reason}\n[${remote.name}] deploy of ${req.releaseId} failed; ${failureState(switched, restored, previous)}.`, restored, steps);
  } finally {
    if (!unlocked) await remote.run(releaseLockScript(p, req.owner.run), { step: "unlock", quiet: true, check: false }).catch(() => undefined);
  }
}

/** The previous release's files and pinned images, up and healthy again; with none, stop the failed stack. */
export async function restoreStack(remote: Remote, req: Pick<ComposeDeployRequest, "service" | "serviceName" | "timeoutSec" | "stabilizeSec" | "log">, c: ComposeCommand, p: ReleasePaths, prev: ReleasePaths | undefined): Promise<boolean> {
  const s = req.service;
  const project = s.project ?? req.serviceName;
  if (!prev) {
    await remote.run(sh`cd ${p.release} && ${composeArgs(c, { project, dir: p.release, files: s.files, overrides: [`${p.release}/${STAGED}/compose.pinned.yml`] })} stop`, { step: "stop failed stack", quiet: true, check: false });
    return false;
  }
  const prevId = prev.release.split("/").pop()!;
  const r = await remote.run(
    sh`${switchCurrentScript(p, prevId)}
cd ${prev.release}
${composeArgs(c, { project, dir: prev.release, files: s.files, overrides: [`${prev.release}/${STAGED}/compose.pinned.yml`] })} up -d --remove-orphans >&2
${waitHealthyScript(c, { project, services: { file: `${prev.release}/${STAGED}/images` }, timeoutSec: req.timeoutSec, windowSec: Math.min(req.stabilizeSec, 5) })}`,
    { step: `restore ${prevId}`, quiet: true, check: false, timeoutMs: (req.timeoutSec + 180) * 1000 },
  );
  if (r.code !== 0) throw new Error(r.stderr.trim().split("\n").slice(-40).join("\n"));
  req.log.warn(`[${remote.name}] restored release ${prevId}: ${project} runs its pinned images again`);
  return true;
}
