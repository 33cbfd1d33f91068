// `slipway init`: what a repository that contains nothing of slipway needs to start: a commented
// minimal environments/<env>.yml and the caller workflows (deploy on push to main, rollback by hand)
// that reference slipway's reusable workflow and actions. Flags only (no prompts, so CI and docs can
// run it); never overwrites a file without --force.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { stringify } from "yaml";
import packageJson from "../../package.json" with { type: "json" };
import { SLIPWAY_OWNER, schemaUrl, slipwayMajor } from "../config/json-schema.js";
import { parseEnvironment } from "../config/load.js";
import { hostFingerprints } from "../remote/fingerprint.js";

export const initKinds = ["systemd", "supervisor", "compose"] as const;
export type InitKind = (typeof initKinds)[number];

export interface InitHost {
  name: string;
  user: string;
  address: string;
  port: number;
}

export interface ActionsRef {
  owner: string;
  repo: string;
  ref: string;
}

/** A host's pinned keys, or why init could not fetch them (the file then gets a placeholder). */
export type HostKeys = { fingerprints: string[] } | { error: string };

export interface InitOptions {
  kind: InitKind;
  env: string;
  hosts: InitHost[];
  service: string;
  actionsRef: ActionsRef;
}

// the schema's names; an environment's name is also a workflow job id, which must start with a letter
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const ENV_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;
const ADDRESS = /^(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])$/;

/** How long init waits for a host's key: a host that does not answer by then gets the placeholder. */
export const KEY_TIMEOUT_MS = 5_000;

export const defaultActionsRef = `${SLIPWAY_OWNER}/slipway@v${slipwayMajor}`;

/** NAME=USER@ADDRESS[:PORT]; an IPv6 address in brackets: web=deploy@[2001:db8::1]:2222 */
export function parseHost(spec: string): InitHost {
  const m = /^([^=]+)=([^@]+)@(.+?)(?::(\d+))?$/.exec(spec);
  if (!m) throw new InvalidArgumentError(`'${spec}' is not NAME=USER@ADDRESS[:PORT] (e.g. web=deploy@203.0.113.10 or web=deploy@203.0.113.10:2222)`);
  const [, name = "", user = "", address = "", port = "22"] = m;
  if (!NAME.test(name)) throw new InvalidArgumentError(`host name '${name}': letters, digits, '.', '_' and '-', starting with a letter or digit`);
  if (!USER.test(user)) throw new InvalidArgumentError(`user '${user}' is not a user name`);
  if (!ADDRESS.test(address)) throw new InvalidArgumentError(`'${address}' is not a host name or IP address (an IPv6 address goes in brackets)`);
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`port ${port} is not 1-65535`);
  return { name, user, address: address.replace(/^\[(.*)\]$/, "$1"), port: n };
}

/** OWNER/REPO@REF, e.g. acme/slipway@v1 */
export function parseActionsRef(spec: string): ActionsRef {
  const m = /^([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+)@([A-Za-z0-9._/-]+)$/.exec(spec);
  if (!m) throw new InvalidArgumentError(`'${spec}' is not OWNER/REPO@REF (e.g. ${defaultActionsRef})`);
  return { owner: m[1]!, repo: m[2]!, ref: m[3]! };
}

/** Every host key the host presents, or why there is none; never throws (a placeholder is the fallback). */
export async function fetchHostKeys(h: InitHost, timeoutMs = KEY_TIMEOUT_MS): Promise<HostKeys> {
  try {
    // readyTimeout bounds each handshake; the race also bounds the five key-type rounds together
    const keys = await Promise.race([
      hostFingerprints(h.address, h.port, timeoutMs),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs * 2).unref()),
    ]);
    return keys.length ? { fingerprints: keys.map((k) => k.fingerprint) } : { error: "it offered no host key slipway can use" };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** A YAML scalar, quoted when it would otherwise read as something else (a number, true, null…). */
const y = (v: string | number | boolean) => stringify(v).trimEnd();
const list = (vs: string[]) => `[${vs.map(y).join(", ")}]`;
/** Text from outside (an error message) inside a YAML comment: one line, or it would become YAML. */
const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();
const portFlag = (h: InitHost) => (h.port === 22 ? "" : ` --port ${h.port}`);

/** The placeholder `validate` refuses (not a SHA256 fingerprint); it names the command that fetches the real one. */
export const keyPlaceholder = (h: InitHost) => `PIN ME: slipway fingerprint ${h.address}${portFlag(h)}`;

function hostBlock(h: InitHost, keys: HostKeys): string {
  const lines = [`  ${h.name}:`, `    address: ${y(h.address)}`];
  if (h.port !== 22) lines.push(`    port: ${h.port}`);
  lines.push(`    user: ${y(h.user)}`);
  if (h.user !== "root") lines.push(`    sudo: true  # systemctl and files under /etc run through \`sudo -n\`: ${h.user} needs passwordless sudo for them`);
  if ("fingerprints" in keys) {
    lines.push(`    # presented by ${h.address}:${h.port} when \`slipway init\` asked: compare with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host`);
    const fp = keys.fingerprints.map((f) => JSON.stringify(f));
    lines.push(`    host-key: ${fp.length === 1 ? fp[0] : `[${fp.join(", ")}]`}`);
  } else {
    lines.push(
      `    # NOT PINNED: slipway init could not fetch the host key (${oneLine(keys.error)}).`,
      `    # Run \`slipway fingerprint ${h.address}${portFlag(h)}\`, compare its output with the host's own`,
      `    # (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on it) and put its host-key line here.`,
      `    host-key: ${JSON.stringify(keyPlaceholder(h))}`,
    );
  }
  return lines.join("\n");
}

function serviceBlock(o: InitOptions): { service: string; check: string } {
  const s = o.service;
  const hosts = list(o.hosts.map((h) => h.name));
  const common = [
    `  ${s}:`,
    `    kind: ${o.kind}`,
    `    hosts: ${hosts}`,
    `    deploy-to: ${y(`/srv/${s}`)}  # on the hosts: releases/<id>, current (the live one), shared/; under a root your sudoers rules allow`,
    `    release: ${y(`dist/${s}`)}  # what is uploaded: a directory (or .tar.gz) of the checkout, committed or built by the workflow`,
  ];
  switch (o.kind) {
    case "systemd":
      return {
        service: [
          ...common,
          `    exec: ${y(`bin/${s}`)}  # ExecStart: words, no shell; the first relative to the release, or absolute`,
          `    restart: { policy: always, delay: 5s }`,
          `    # user: ${s}  # run as this user (default: root)`,
          `    # env: { PORT: "8000" }`,
          `    # secret-env: { DB_PASSWORD: APP_DB_PASSWORD }  # the value is the name of a GitHub secret`,
        ].join("\n"),
        check: [`  - name: ${y(`${s} running`)}`, `    systemd: ${y(`${s}.service`)}`, `    hosts: ${hosts}`].join("\n"),
      };
    case "supervisor":
      return {
        service: [
          ...common,
          `    programs:`,
          `      ${s}:`,
          `        command: ${y(`bin/${s}`)}  # words, no shell; relative to the release when it holds a '/'`,
          `        # environment: { PORT: "8000" }`,
          `    # secret-env: { DB_PASSWORD: APP_DB_PASSWORD }  # the value is the name of a GitHub secret`,
        ].join("\n"),
        check: [`  - name: ${y(`${s} running`)}`, `    supervisor: ${y(`${s}:*`)}  # every program of the group`, `    hosts: ${hosts}`].join("\n"),
      };
    case "compose":
      return {
        service: [
          ...common,
          `    files: [compose.yml]  # in the release directory`,
          `    # database-service: db  # started and healthy before migrations run`,
          `    # secret-env: { DB_PASSWORD: APP_DB_PASSWORD }  # written to the stack's .env; the value is the name of a GitHub secret`,
        ].join("\n"),
        check: [`  - name: ${y(`${s} running`)}`, `    compose: ${y(s)}  # a service of the stack, as compose.yml names it`, `    hosts: ${hosts}`].join("\n"),
      };
  }
}

/** The commented minimal environment file. */
export function environmentFile(o: InitOptions, keys: Map<string, HostKeys>): string {
  const first = o.hosts[0]!.name;
  const { service, check } = serviceBlock(o);
  return `# yaml-language-server: $schema=${schemaUrl}
# The ${o.env} environment, written by \`slipway init\` (slipway ${packageJson.version}). Edit it to fit the app, then
# \`slipway validate\` checks it and \`slipway plan ${o.env}\` shows what a deploy would do. Every key is in
# the schema above (an editor with the YAML extension completes and checks them).
name: ${y(o.env)}

ssh:
  # the GitHub secret (of the ${o.env} environment, or the repository's) holding the private key the hosts accept
  key-secret: SLIPWAY_SSH_KEY

hosts:
${o.hosts.map((h) => hostBlock(h, keys.get(h.name) ?? { error: "not asked" })).join("\n")}

services:
${service}

# databases:  # backed up (verified) before migrations, then migrated: numbered files 001_init.sql, …
#   app:
#     engine: postgres
#     on: { host: ${first} }
#     name: app
#     password-secret: APP_DB_PASSWORD
#     migrations: { dir: migrations }

checks:  # run after every deploy; a failing one rolls the release back (policy.auto-rollback)
${check}
  # - http: http://localhost:8000/health
  #   from: ${first}  # run on the host, not the runner

policy:
  keep-releases: 5
  auto-rollback: true
`;
}

// environments GitHub should show as non-production deployments
const NOT_PRODUCTION = /^(stag|dev|test|qa|preview)/i;

/** The caller of slipway's reusable deploy workflow: one job per environment, staging first. */
export function deployWorkflow(envs: string[], r: ActionsRef): string {
  const uses = `${r.owner}/${r.repo}/.github/workflows/deploy-environment.yml@${r.ref}`;
  const ordered = [...envs].sort((a, b) => Number(b === "staging") - Number(a === "staging") || a.localeCompare(b));
  const jobs = ordered.map((env) =>
    [
      `  ${env}:`,
      ...(env !== "staging" && envs.includes("staging") ? ["    needs: staging"] : []),
      `    uses: ${uses}`,
      `    permissions:`,
      `      contents: read`,
      `      deployments: write`,
      `    with:`,
      `      environment: ${env}`,
      ...(NOT_PRODUCTION.test(env) ? [] : ["      production: true"]),
      `    secrets: inherit`,
    ].join("\n"),
  );
  return `# Written by \`slipway init\`: a push to main deploys ${ordered.join(", then ")} through slipway's reusable
# workflow (backup-db -> apply-migrations -> deploy -> verify-health; the previous release is put back when
# verification fails and policy.auto-rollback is true). The approval for an environment is its required
# reviewers (Settings -> Environments). An environment's secrets reach the called workflow only through
# \`secrets: inherit\`. To deploy a release built in the run: pass build: "npm ci && npm run build" (run in
# each environment's job), or upload it as an artifact in a job of this file and pass release-artifact.
name: deploy

on:
  push:
    branches: [main]
  workflow_dispatch:

permissions:
  contents: read

jobs:
${jobs.join("\n\n")}
`;
}

/** The caller of slipway's reusable rollback workflow, dispatched by hand. */
export function rollbackWorkflow(envs: string[], r: ActionsRef): string {
  const production = envs.filter((e) => !NOT_PRODUCTION.test(e));
  return `# Written by \`slipway init\`: roll an environment back by hand (Actions -> rollback -> Run workflow). Each
# host's services return to the previous good release in its ledger, or to the release named, and are
# verified; a database restore waits for the approval of the environment <env>-db-restore.
name: rollback

on:
  workflow_dispatch:
    inputs:
      environment:
        description: Environment to roll back
        type: choice
        options: ${list(envs)}
        required: true
      release:
        description: Release id or git sha to return to (empty = the previous good release)
        type: string
        default: ""
      restore-db:
        description: Also restore the database (approval of the environment <env>-db-restore)
        type: boolean
        default: false
      allow-contract:
        description: Roll the code back past a contract migration (dropped or renamed column or table) WITHOUT restore-db; the reason is recorded
        type: string
        default: ""

permissions:
  contents: read

jobs:
  rollback:
    uses: ${r.owner}/${r.repo}/.github/workflows/rollback.yml@${r.ref}
    permissions:
      contents: read
      deployments: write
      actions: read
    with:
      environment: \${{ inputs.environment }}
      release: \${{ inputs.release }}
      restore-db: \${{ inputs.restore-db }}
      allow-contract: \${{ inputs.allow-contract }}
${production.length ? `      production: \${{ ${production.map((e) => `inputs.environment == '${e}'`).join(" || ")} }}\n` : ""}    secrets: inherit
`;
}

/** The caller of slipway's reusable plan workflow: one comment per environment on every pull request. */
export function planWorkflow(r: ActionsRef): string {
  return `# Written by \`slipway init\`: every pull request gets one comment per environments/*.yml, updated in place:
# what a deploy would do on which host, the migration lint, and the changed files that concern it. It
# holds no secret: a pull request's workflow runs the pull request's code.
name: plan

on:
  pull_request:

permissions:
  contents: read

concurrency:
  group: plan-\${{ github.event.pull_request.number }}
  cancel-in-progress: true

jobs:
  plan:
    uses: ${r.owner}/${r.repo}/.github/workflows/plan.yml@${r.ref}
    permissions:
      contents: read
      pull-requests: write
      deployments: read
`;
}

/** The environments the workflows deploy: every environments/*.yml of the repository, and the new one. */
function environmentNames(root: string, env: string): { names: string[]; skipped: string[] } {
  const dir = path.join(root, "environments");
  const found = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => f.replace(/\.ya?ml$/, "")) : [];
  const all = [...new Set([...found, env])].sort();
  return { names: all.filter((n) => ENV_NAME.test(n)), skipped: all.filter((n) => !ENV_NAME.test(n)) };
}

export interface InitResult {
  written: string[];
  unpinned: InitHost[];
}

export async function init(o: InitOptions & { root: string; force: boolean; workflows: boolean; log?: (line: string) => void }): Promise<InitResult> {
  const log = o.log ?? console.log;
  const envFile = path.join("environments", `${o.env}.yml`);
  const { names, skipped } = environmentNames(o.root, o.env);
  const files = [envFile, ...(o.workflows ? [".github/workflows/deploy.yml", ".github/workflows/rollback.yml", ".github/workflows/plan.yml"] : [])];
  // all or nothing: refuse before asking any host or writing any file
  const existing = files.filter((f) => existsSync(path.join(o.root, f)));
  if (existing.length && !o.force) throw new Error(`${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""}: pass --force to overwrite${o.workflows ? " (or --no-workflows to write only the environment file)" : ""}`);

  const keys = new Map(await Promise.all(o.hosts.map(async (h) => [h.name, await fetchHostKeys(h)] as const)));
  const text = environmentFile(o, keys);
  const unpinned = o.hosts.filter((h) => "error" in keys.get(h.name)!);
  // what init writes must validate; only the deliberate placeholder may not
  if (!unpinned.length) parseEnvironment(text, envFile);

  const contents = new Map([[envFile, text]]);
  if (o.workflows) {
    contents.set(".github/workflows/deploy.yml", deployWorkflow(names, o.actionsRef));
    contents.set(".github/workflows/rollback.yml", rollbackWorkflow(names, o.actionsRef));
    contents.set(".github/workflows/plan.yml", planWorkflow(o.actionsRef));
  }
  for (const [file, content] of contents) {
    mkdirSync(path.dirname(path.join(o.root, file)), { recursive: true });
    writeFileSync(path.join(o.root, file), content);
    log(`wrote ${file}`);
  }
  if (skipped.length) log(`note: not in the workflows (a job id must start with a letter and hold only letters, digits, '-', '_'): ${skipped.join(", ")}`);

  const steps = [
    ...o.hosts.map((h) => {
      const k = keys.get(h.name)!;
      return "fingerprints" in k
        ? `host ${h.name}: pinned the key ${h.address}:${h.port} presented; compare it with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host`
        : `host ${h.name}: NOT PINNED (${oneLine(k.error)}): run \`slipway fingerprint ${h.address}${portFlag(h)}\` and put its host-key line in ${envFile}`;
    }),
    `add the secret SLIPWAY_SSH_KEY (the private key the hosts accept) to the GitHub environment ${o.env}: gh secret set SLIPWAY_SSH_KEY --env ${o.env} < KEYFILE`,
    `put the app${o.kind === "compose" ? " (its compose.yml)" : ""} in dist/${o.service} (or build it in the workflow), edit ${envFile}, then \`slipway validate\` and \`slipway plan ${o.env}\``,
    ...(!o.workflows && existsSync(path.join(o.root, ".github/workflows/deploy.yml"))
      ? [`add ${o.env} to .github/workflows/deploy.yml and rollback.yml (a job like the others; plan.yml lints every environments/*.yml by itself), or rerun with --force to rewrite them for every environment`]
      : []),
    ...(o.workflows && o.actionsRef.owner === SLIPWAY_OWNER ? [`the workflows reference ${o.actionsRef.owner}/${o.actionsRef.repo}@${o.actionsRef.ref}, a placeholder owner: rerun with --actions-ref <owner>/slipway@v${slipwayMajor} naming the repository you take slipway from, or edit the uses: lines`] : []),
    "commit and push to main: the deploy workflow runs",
  ];
  log(`\nnext:\n${steps.map((s, i) => `  ${i + 1}. ${s}`).join("\n")}`);
  return { written: [...contents.keys()], unpinned };
}

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a commented environments/<env>.yml (host keys fetched from the hosts) and the caller workflows deploy.yml, rollback.yml and plan.yml")
    .addOption(new Option("--kind <kind>", "how the service runs").choices(initKinds).default("systemd"))
    .option("--env <name>", "environment name (environments/<name>.yml, the GitHub environment)", (v) => {
      if (!ENV_NAME.test(v)) throw new InvalidArgumentError("letters, digits, '-' and '_', starting with a letter (it is also a workflow job id)");
      return v;
    }, "staging")
    .option("--host <NAME=USER@ADDRESS[:PORT]>", "a host (at least one; repeat for more)", (v, prev: InitHost[] | undefined) => [...(prev ?? []), parseHost(v)])
    .option("--service <name>", "service name", (v) => {
      if (!NAME.test(v)) throw new InvalidArgumentError("letters, digits, '.', '_' and '-', starting with a letter or digit");
      return v;
    }, "app")
    .addOption(new Option("--actions-ref <OWNER/REPO@REF>", "where the workflows take slipway's reusable workflow and actions from").argParser(parseActionsRef).default(parseActionsRef(defaultActionsRef), defaultActionsRef))
    .option("--no-workflows", "write only the environment file")
    .option("--force", "overwrite files that exist", false)
    .action(async (opts: { kind: InitKind; env: string; host?: InitHost[]; service: string; actionsRef: ActionsRef; workflows: boolean; force: boolean }) => {
      const hosts = opts.host ?? [];
      if (!hosts.length) throw new Error("give at least one --host NAME=USER@ADDRESS[:PORT] (e.g. --host web=deploy@203.0.113.10)");
      const dup = hosts.find((h, i) => hosts.findIndex((o) => o.name === h.name) !== i);
      if (dup) throw new Error(`host ${dup.name} is given twice`);
      await init({ kind: opts.kind, env: opts.env, hosts, service: opts.service, actionsRef: opts.actionsRef, root: process.cwd(), force: opts.force, workflows: opts.workflows });
    });
}
