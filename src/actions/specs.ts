// The seven actions' interfaces: the single source from which actions/<name>/action.yml is
// generated (npm run build) and from which the action code reads its inputs.
import type { Environment } from "../config/schema.js";

export interface InputSpec {
  description: string;
  required?: boolean;
  default?: string;
}
export interface ActionSpec {
  name: ActionName;
  title: string;
  description: string;
  inputs: Record<string, InputSpec>;
  outputs: Record<string, string>;
  /** the hosts this action concerns when no `hosts` input narrows them */
  hostsOf(env: Environment): string[];
  /** common inputs that mean nothing for this action (plan changes nothing and opens no connection) */
  without?: (keyof typeof commonInputs)[];
}

export const actionNames = ["backup-db", "apply-migrations", "deploy-systemd", "deploy-supervisor", "deploy-compose", "verify-health", "rollback", "plan", "drift"] as const;
export type ActionName = (typeof actionNames)[number];

export const commonInputs: Record<string, InputSpec> = {
  environment: {
    description: "Environment to act on: a name meaning environments/<name>.yml in the repository, or a path to a YAML file.",
    required: true,
  },
  hosts: {
    description: "Only these hosts (names from the environment file, separated by commas, spaces or newlines). Default: every host of the environment that this action concerns.",
    required: false,
    default: "",
  },
  "dry-run": {
    description: "Print what would be done and change nothing (true/false).",
    required: false,
    default: "false",
  },
};

/** Every input of an action: the common ones it uses, then its own. */
export function inputsOf(spec: ActionSpec): Record<string, InputSpec> {
  const common = Object.entries(commonInputs).filter(([k]) => !spec.without?.includes(k as keyof typeof commonInputs));
  return { ...Object.fromEntries(common), ...spec.inputs };
}

// GitHub reporting: deployments and their statuses, the plan comment. An empty token reports nothing.
const githubToken: InputSpec = {
  description: "Token for GitHub's REST API (deployments, statuses, the pull-request comment); the job needs `permissions: deployments: write` (plan: `pull-requests: write`). Empty: report nothing to GitHub.",
  default: "${{ github.token }}",
};
const productionInput: InputSpec = { description: "Show this environment's deployments as production ones on GitHub (true/false).", default: "false" };

const uniq = (xs: (string | undefined)[]) => [...new Set(xs.filter((x): x is string => !!x))];
const databaseHosts = (env: Environment) =>
  uniq(Object.values(env.databases).flatMap((d) => [d.on?.host, d.engine === "postgres" ? d.via : undefined]));
const serviceHosts = (env: Environment, kind?: string) =>
  uniq(Object.values(env.services).flatMap((s) => (kind === undefined || s.kind === kind ? s.hosts : [])));

const serviceInput: InputSpec = { description: "Only this service (a name under services:). Default: every service of this kind.", default: "" };
const releaseInputs: Record<string, InputSpec> = {
  service: serviceInput,
  release: { description: "Directory or .tar.gz to deploy, overriding the service's `release:` setting.", default: "" },
  sha: { description: "Git commit being deployed (recorded in the ledger and the release id).", default: "${{ github.sha }}" },
  "lock-wait": { description: "How long to wait for another deploy's lock on a host (e.g. 5m). Default: fail at once, naming the holder.", default: "0" },
  "backup-id": { description: "backup-db's backup-id in this run, recorded in the ledger (rollback names it).", default: "" },
  "migration-head": { description: "apply-migrations' head in this run, recorded in the ledger.", default: "" },
  migrations: { description: "apply-migrations' migrations output in this run (JSON), recorded in the ledger and the GitHub deployment: rollback refuses to go back past a contract migration without restore-db.", default: "" },
  "github-token": githubToken,
  production: productionInput,
};
const releaseOutputs = {
  "release-id": "The release id deployed (git sha + timestamp).",
  hosts: "JSON object: per host, the release id now live and the outcome.",
  changed: "true when anything on a host changed.",
  "deployment-id": "The GitHub deployment created for this release (in_progress; verify-health's deployment-id input marks it success or failure). Empty when nothing was reported.",
};

export const actionSpecs: Record<ActionName, ActionSpec> = {
  "backup-db": {
    name: "backup-db",
    title: "slipway backup-db",
    description: "Back up PostgreSQL (pg_dump -Fc on the host, in a container or from the runner) or SQLite (online backup), verify the dump, apply retention.",
    inputs: {
      database: { description: "Only this database (a name under databases:). Default: every database.", default: "" },
      to: { description: "Where the dump goes: host (the backup directory on the database host) or runner (a file, then an artifact). Default: the environment's backup.to.", default: "" },
      "runner-dir": { description: "With to: runner, the directory on the runner for the dump.", default: "backups" },
      verify: { description: "list (pg_restore --list) or restore (restore into a scratch database and compare row counts). Default: the environment's backup.verify.", default: "" },
    },
    outputs: {
      "backup-id": "Id of the backup made (use it as apply-migrations' backup-id).",
      path: "Where the dump is stored (host path or runner path).",
      "runner-paths": "The dumps stored on the runner and their metadata files (.json), one per line (empty when every dump stays on its host): keep them as an artifact named backup-<environment>-… (the reusable rollback workflow fetches it for restore-db).",
      size: "Size of the dump in bytes.",
      sha256: "SHA-256 of the dump.",
      verified: "true when the dump passed verification.",
    },
    hostsOf: databaseHosts,
  },
  "apply-migrations": {
    name: "apply-migrations",
    title: "slipway apply-migrations",
    description: "Apply pending SQL (numbered files) or alembic migrations under an advisory lock, each in its own transaction, with checksums recorded.",
    inputs: {
      database: { description: "Only this database. Default: every database with migrations.", default: "" },
      "backup-id": { description: "backup-id output of a verified backup-db step in the same run; required when the policy says backup-before-migrate.", default: "" },
      "runner-dir": { description: "Where backup-db put runner-side backups (to find backup-id's metadata).", default: "backups" },
    },
    outputs: {
      applied: "Number of migrations applied.",
      pending: "Number of migrations pending (after a dry run: what would be applied).",
      head: "The latest applied migration version.",
      migrations: "JSON array: the migrations applied in this run, each {database, name, class} with class expand or contract (pass it to deploy-*'s migrations input: the ledger and the GitHub deployment record it, and rollback refuses to cross a contract migration without restore-db).",
    },
    hostsOf: databaseHosts,
  },
  "deploy-systemd": {
    name: "deploy-systemd",
    title: "slipway deploy-systemd",
    description: "Deploy a release as a systemd service: release directory, verified unit, atomic switch, restart, stability wait, lock and ledger.",
    inputs: releaseInputs,
    outputs: releaseOutputs,
    hostsOf: (env) => serviceHosts(env, "systemd"),
  },
  "deploy-supervisor": {
    name: "deploy-supervisor",
    title: "slipway deploy-supervisor",
    description: "Deploy a release as supervisor programs: release directory, conf.d file, reread/update, restart the group, wait until RUNNING.",
    inputs: releaseInputs,
    outputs: releaseOutputs,
    hostsOf: (env) => serviceHosts(env, "supervisor"),
  },
  "deploy-compose": {
    name: "deploy-compose",
    title: "slipway deploy-compose",
    description: "Deploy a docker compose stack: images pinned by digest, database first, up, wait until healthy; works with Synology's docker paths and sudo.",
    inputs: {
      ...releaseInputs,
      migrate: { description: "Apply the migrations of the databases that live in the stack's database-service, after it is healthy and before the app services change (true/false).", default: "true" },
      "runner-dir": { description: "With migrate: where backup-db put runner-side backups (to find backup-id's metadata for the backup gate).", default: "backups" },
    },
    outputs: { ...releaseOutputs, digests: "JSON object: per compose service, the image digest now running." },
    hostsOf: (env) => serviceHosts(env, "compose"),
  },
  "verify-health": {
    name: "verify-health",
    title: "slipway verify-health",
    description: "Run the environment's health checks (http, tcp, command, systemd, supervisor, compose, sql, file freshness, panic flag, memory) with retries and a stability window.",
    inputs: {
      checks: { description: "Only the checks with these names (comma separated). Default: all.", default: "" },
      "deployment-id": { description: "GitHub deployment(s) to mark success or failure by the outcome: a deploy step's deployment-id output (several separated by commas).", default: "" },
      "github-token": githubToken,
    },
    outputs: {
      healthy: "true when every check passed.",
      report: "JSON report: each check with result and timing.",
    },
    hostsOf: (env) => {
      // checks without from:/hosts: run where the services (or the database) are
      const implicit = env.checks.some((c) => !c.from && !c.hosts) ? [...serviceHosts(env), ...databaseHosts(env)] : [];
      const named = uniq([...env.checks.flatMap((c) => [c.from, ...(c.hosts ?? [])]), ...implicit]);
      return named.length > 0 ? named : Object.keys(env.hosts);
    },
  },
  rollback: {
    name: "rollback",
    title: "slipway rollback",
    description: "Return services to the previous good release from the ledger (or a named one), restoring unit/program/compose files and env files; optionally restore a database backup.",
    inputs: {
      service: { description: "Only this service. Default: every service.", default: "" },
      to: { description: "Release id or git sha to return to. Default: the previous good release in the ledger.", default: "" },
      "restore-db": { description: "Also restore the database from a backup (true/false). Run it only in a job behind its own environment approval. Needed to roll back past a contract migration (a dropped or renamed table or column, a changed type).", default: "false" },
      "allow-contract": { description: "Roll the code back past a contract migration WITHOUT restoring the database: the reason (recorded in the ledger). Empty: such a rollback is refused, naming the migrations.", default: "" },
      "backup-id": { description: "With restore-db: the backup to restore. Default: the database as the target release left it (the latest backup a later deploy recorded while the target's migration head was live).", default: "" },
      "only-if-live": { description: "Roll back only the hosts where this release is live (a deploy step's release-id output); other hosts are left alone.", default: "" },
      auto: { description: "true when a workflow rolls back automatically after a failed verification: then it happens only if the environment's policy says auto-rollback: true.", default: "false" },
      reason: { description: "Why, recorded in the ledger next to the release marked bad.", default: "" },
      verify: { description: "Run the environment's health checks on the hosts that were rolled back (true/false); the step fails if they still fail.", default: "true" },
      "lock-wait": { description: "How long to wait for a deploy's lock on a host (e.g. 5m). Default: the policy's lock.wait.", default: "" },
      "runner-dir": { description: "Where backup-db put runner-side backups (to find backup-id).", default: "backups" },
      "github-token": githubToken,
      production: productionInput,
    },
    outputs: {
      "release-id": "The release id now live.",
      "restored-db": "true when a database was restored.",
      "backup-id": "The backup restore-db restores (the backup-id input, or by default the database as the target release left it); empty when the ledger records none.",
      refused: "When the rollback was refused because it would cross a contract migration (nothing was changed): why, naming the migrations. Empty otherwise.",
      "deployment-id": "The GitHub deployment recording this rollback (payload rollback: true). Empty when nothing was reported.",
    },
    hostsOf: (env) => serviceHosts(env),
  },
  plan: {
    name: "plan",
    title: "slipway plan",
    description: "Validate the environment file (each problem annotated at its line), lint its SQL migrations with PostgreSQL's parser (annotated at their lines), show what a deploy would do on which host, and on a pull request create or update one comment per environment with the plan, the migrations the deploy will run (counted from the migration head of the last deployment GitHub recorded), the releases that stay safe rollback targets, the lint and the changed files that concern it. Opens no connection and needs no secret.",
    inputs: {
      comment: { description: "Create or update the pull-request comment: auto (when the event is a pull request), true or false.", default: "auto" },
      "pull-request": { description: "The pull request to comment on.", default: "${{ github.event.pull_request.number }}" },
      base: { description: "The commit the changes are compared with (git diff --name-status base...head; the checkout needs fetch-depth: 0).", default: "${{ github.event.pull_request.base.sha }}" },
      head: { description: "The commit whose changes are planned.", default: "${{ github.event.pull_request.head.sha || github.sha }}" },
      lint: { description: "Lint the SQL migrations (true/false). A deploy job's plan step sets false: apply-migrations lints the files it applies.", default: "true" },
      "github-token": githubToken,
    },
    outputs: {
      plan: "What a deploy would do, as text.",
      kinds: 'The kinds of service the environment deploys, as a JSON array (e.g. ["systemd","compose"]).',
      systemd: "true when the environment has a systemd service (run deploy-systemd).",
      supervisor: "true when the environment has a supervisor service (run deploy-supervisor).",
      compose: "true when the environment has a compose service (run deploy-compose).",
      "has-migrations": "true when a database of the environment has migrations.",
      "lint-errors": "How many error-level findings the migration lint has in the environment's SQL migrations (annotated at their lines; apply-migrations refuses a pending file with one). Empty with lint: false.",
    },
    hostsOf: () => [],
    without: ["hosts", "dry-run"],
  },
  drift: {
    name: "drift",
    title: "slipway drift",
    description: "Compare what is live on each host (<deploy-to>/current and its ledger) with the last successful deployment GitHub recorded, or a given commit; fail with a diff when a host has nothing live, runs a release switched by hand, disagrees with its peers or runs another commit.",
    inputs: {
      service: { description: "Only this service. Default: every service.", default: "" },
      sha: { description: "The commit that should be live. Default: the commit of the environment's last successful slipway deployment on GitHub (none found: every host must run a recorded release and the hosts of a service agree).", default: "" },
      "github-token": githubToken,
    },
    outputs: {
      problems: "How many differences were found (0: no drift).",
      report: "The comparison, as text (a diff when there is drift).",
      "expected-sha": "The commit compared with (empty when none was known).",
    },
    hostsOf: (env) => serviceHosts(env),
    without: ["dry-run"],
  },
};
