// Issue #15 (item 7): what a newcomer gets wrong silently is reported by validate at file:line:col
// with the fix — files of the repository the environment names (migrations, release, compose and
// unit files), two services in one directory, a name that is not the file's, a mapping written as
// a string, a misspelt key. Errors fail validation; warnings (what a later build step may still
// create) are returned with the environment.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, formatProblem, loadEnvironment } from "../../src/config/load.js";

const FP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
const root = mkdtempSync(path.join(os.tmpdir(), "slipway-validate-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const put = (rel: string, text = "") => {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
};
put("migrations/ok/001_init.sql", "create table t (x int);\n");
put("migrations/unnumbered/001_init.sql");
put("migrations/unnumbered/add_column.sql");
put("migrations/twice/002_a.sql");
put("migrations/twice/002_b.sql");
put("stack/compose.yml", "services:\n  db: { image: postgres }\n  app: { image: app }\n");
put("app/run.sh", "#!/bin/sh\n");
put("alembic-app/alembic.ini", "[alembic]\n");

const head = `hosts:\n  d1: { address: 10.0.0.1, host-key: "${FP}" }\n`;
/** validate environments/<name>.yml holding `text` in the temporary repository: [errors, warnings] */
function check(text: string, name = "staging"): [string[], string[]] {
  put(`environments/${name}.yml`, text);
  try {
    const loaded = loadEnvironment(name, root);
    return [[], (loaded.warnings ?? []).map(formatProblem)];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return [e.problems.map(formatProblem), []];
  }
}
const pg = (migrations: string) => `${head}databases:\n  app:\n    engine: postgres\n    on: { host: d1 }\n    name: app\n    migrations: ${migrations}\n`;
const systemd = (extra: string) => `${head}services:\n  app:\n    kind: systemd\n    hosts: [d1]\n    deploy-to: /srv/app\n${extra}`;

describe("validate: what a newcomer got wrong, at file:line:col with the fix", () => {
  it.each([
    ["a migrations.dir that does not exist", pg("{ dir: migrations/nope }"), "environments/staging.yml:8:24: databases.app.migrations.dir: migrations/nope is not a directory of the repository: create it (numbered files like 001_create_table.sql) or fix the path"],
    ["an unnumbered migration", pg("{ dir: migrations/unnumbered }"), "environments/staging.yml:8:24: databases.app.migrations.dir: migrations/unnumbered: SQL files without a version number: add_column.sql (name them like 006_add_table.sql)"],
    ["two migrations with one version", pg("{ dir: migrations/twice }"), "environments/staging.yml:8:24: databases.app.migrations.dir: migrations/twice: two migrations have version 002: 002_a.sql and 002_b.sql"],
    ["an alembic dir without alembic.ini", pg("{ dir: app, engine: alembic }"), "environments/staging.yml:8:24: databases.app.migrations.dir: app has no alembic.ini: name the directory that holds it"],
    ["two services deploying to one directory of a host", `${systemd("    exec: /usr/bin/a\n")}  other:\n    kind: systemd\n    hosts: [d1]\n    deploy-to: /srv/app/\n    exec: /usr/bin/b\n`, "environments/staging.yml:12:16: services.other.deploy-to: service 'app' deploys to /srv/app/ on d1 too: two services in one directory share releases, current and the lock"],
    ["a compose database-service that the compose file lacks", `${head}services:\n  s:\n    kind: compose\n    hosts: [d1]\n    deploy-to: /srv/s\n    release: stack\n    files: [compose.yml]\n    database-service: postgres\n`, "environments/staging.yml:10:23: services.s.database-service: 'postgres' is not a service of compose.yml (services: db, app): name the stack's database service"],
    ["a mapping written as a word", systemd("    exec: /usr/bin/a\n    restart: always\n"), "environments/staging.yml:9:14: services.app.restart: expected a mapping, e.g. restart: { policy: always, delay: 5s }"],
    ["a list written as a word", systemd("    exec: /usr/bin/a\n    logrotate: { paths: /var/log/a.log }\n"), "services.app.logrotate.paths: Invalid input: expected array, received string"],
    ["a misspelt key, with the nearest allowed one", systemd("    exec: /usr/bin/a\n    hardning: strict\n"), "environments/staging.yml:9:5: services.app.hardning: unknown key 'hardning': did you mean 'hardening'?"],
    ["a misspelt top-level key", `${head}polcy: { keep-releases: 3 }\n`, "environments/staging.yml:3:1: polcy: unknown key 'polcy': did you mean 'policy'?"],
    ["a key of another kind of service: the allowed keys of this kind", systemd("    exec: /usr/bin/a\n    files: [x.yml]\n"), "services.app.files: unknown key 'files' (allowed here: after, deploy-to, description, env, exec, exec-reload, group, hardening, hosts, kind, limits, logrotate, on-change, read-write-paths, release, replaces-cron, requires, restart, secret-env, shared, stabilize, timer, unit-file, unit-name, user, wants)"],
    ["a calendar event systemd cannot read", systemd("    exec: /usr/bin/a\n    timer: { on-calendar: 'every 5 minutes' }\n"), "environments/staging.yml:9:27: services.app.timer.on-calendar: systemd cannot read this calendar event"],
  ])("%s", (_, text, expected) => {
    const [errors] = check(text);
    expect(errors.join("\n")).toContain(expected);
  });

  it.each([
    ["a release not in the repository (built later in the workflow)", systemd("    exec: run.sh\n    release: dist/app\n"), "environments/staging.yml:9:14: warning: services.app.release: dist/app is not in the repository now: build it in the workflow before the deploy step runs, or fix the path"],
    ["a unit file missing from the release", systemd("    unit-file: app.service\n    release: app\n"), "environments/staging.yml:8:16: warning: services.app.unit-file: app.service is not in app: the deploy would fail; add it or fix the path"],
    ["a compose file missing from the release", `${head}services:\n  s:\n    kind: compose\n    hosts: [d1]\n    deploy-to: /srv/s\n    release: stack\n    files: [compose.yml, compose.prod.yml]\n`, "environments/staging.yml:9:26: warning: services.s.files.1: compose.prod.yml is not in stack: the deploy would fail; add it or fix the path"],
  ])("warns: %s", (_, text, expected) => {
    const [errors, warnings] = check(text);
    expect(errors).toEqual([]);
    expect(warnings.join("\n")).toContain(expected);
  });

  it("warns when name: is not the file's name", () => {
    const [errors, warnings] = check(`name: prod\n${head}`, "production");
    expect(errors).toEqual([]);
    expect(warnings).toEqual(["environments/production.yml:1:7: warning: name: name 'prod' differs from the file name 'production': workflows and `slipway <verb> production` call it production, while the ledger, summaries and deployments say prod; rename one of them"]);
  });

  it("the same things written right: no error, no warning", () => {
    expect(check(`name: staging\n${pg("{ dir: migrations/ok }")}services:\n  s:\n    kind: compose\n    hosts: [d1]\n    deploy-to: /srv/s\n    release: stack\n    files: [compose.yml]\n    database-service: db\n  app:\n    kind: systemd\n    hosts: [d1]\n    deploy-to: /srv/app\n    release: app\n    exec: run.sh\n    restart: { policy: always }\n`)).toEqual([[], []]);
  });
});
