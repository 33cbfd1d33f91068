// Issue #17, the shell: a value is data, never syntax. Every value reaches a script as a quoted word
// in word position (or as a positional argument / environment variable of the script), never
// inside "…", inside a trap's '…' text or in a heredoc, where bash would parse it again.
//   - regressions: each reproducer of the issue, run by a real bash on real files;
//   - every builder of src/commands rendered with hostile values: `bash -n` and shellcheck accept it,
//     and a marker value is, byte for byte, inside a single-quoted word that bash reads as a word;
//   - backup metadata read back from a host or the runner is parsed, not trusted.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alembicScript } from "../../src/commands/alembic.js";
import { pgDumpScript, pgRestoreVerifyScript, removeOnExit, retentionScript, sqliteBackupScript, sqliteDotArg } from "../../src/commands/backup.js";
import { composeConfigScript, detectComposeScript, prepareImagesScript, privateFileScript, pruneImagesScript, waitHealthyScript, type ComposeCommand } from "../../src/commands/compose.js";
import {
  commandScript, composeInspectScript, composeLogsScript, curlScript, fileTimesScript, journalTailScript, memoryScript, pathStatusScript, sqliteQueryScript,
  supervisorStatusScript, systemdShowScript, tcpScript,
} from "../../src/commands/health.js";
import { pgDumpCommand, pgRestoreCommand, pgToolVersionCommand, psqlCommand, withHeredoc, type ClientOptions, type PgLocation } from "../../src/commands/postgres.js";
import { appendHostLedgerScript, appendLedgerScript, readLedgerScript } from "../../src/ledger/ledger.js";
import { quote, sh, Shell } from "../../src/commands/quote.js";
import {
  linkSharedScript, prepareAndLockScript, pruneReleasesScript, receiveReleaseScript, releaseLockScript,
  releasePaths, switchCurrentScript,
} from "../../src/commands/release.js";
import { installProgramsScript, restartGroupAndWaitScript, supervisorctl } from "../../src/commands/supervisor.js";
import { installLogrotateScript, removeCronScript, restartAndWaitScript, verifyAndInstallUnitScript } from "../../src/commands/systemd.js";
import { BackupError, findBackup, parseBackupMeta, restorePostgres, type BackupMeta } from "../../src/operations/backup.js";
import type { PgClient } from "../../src/operations/pg.js";
import type { Remote } from "../../src/remote/connection.js";
import { runLocal } from "../../src/remote/local.js";
import { hostileStrings } from "../harness/hostile.js";

let dir: string;
let stubs: string;
let pwned: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "slipway-shell-values-"));
  pwned = path.join(dir, "pwned");
  // `slipway-pwn` (a command on the scripts' PATH): what a value would run if bash parsed it again
  stubs = path.join(dir, "bin");
  mkdirSync(stubs);
  writeFileSync(path.join(stubs, "slipway-pwn"), `#!/bin/sh\ntouch ${quote(pwned)}\n`);
  chmodSync(path.join(stubs, "slipway-pwn"), 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bash = (s: Shell, env: NodeJS.ProcessEnv = {}) => runLocal(s, { step: "test", check: false, timeoutMs: 20_000, env: { ...process.env, PATH: `${stubs}:${process.env.PATH}`, ...env } });
const notPwned = () => expect(existsSync(pwned), "a value was run as a command").toBe(false);

describe("issue #17 reproducers, run by bash", () => {
  it("a missing SQLite database whose path holds $(…), backticks and quotes is named verbatim; nothing in the path runs", async () => {
    for (const db of [`/tmp/x/$(touch ${pwned})`, `/tmp/x/\`slipway-pwn\``, `/tmp/x/a"b$(slipway-pwn)"c`, `/tmp/x/'$(slipway-pwn)'`]) {
      const r = await bash(sqliteBackupScript({ sqlite3: "sqlite3", db, dir: path.join(dir, "sqlite-backups"), id: "app-20261201T100000000Z-1a2b", sudo: false, tables: [] }));
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`SQLite database ${db} does not exist\n`);
      notPwned();
    }
  });

  it("an unreadable SQLite path of a sql check is named verbatim; nothing in it runs", async () => {
    const file = `${dir}/nope/$(slipway-pwn)"\`slipway-pwn\`'`;
    const r = await bash(sqliteQueryScript({ sqlite3: ["sqlite3"], path: file, query: "SELECT 1", timeoutMs: 1000 }));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`cannot read ${file} as ${os.userInfo().username}\n`);
    notPwned();
  });

  it("a conf file supervisor rejects is named verbatim (config-dir with $(…)); the previous state is restored", async () => {
    const bin = path.join(dir, "supervisor-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, "supervisorctl"), "#!/bin/sh\necho 'ERROR (no such file)'\nexit 2\n");
    chmodSync(path.join(bin, "supervisorctl"), 0o755);
    const confDir = path.join(dir, "conf.d", "$(slipway-pwn)");
    mkdirSync(confDir, { recursive: true });
    const staged = path.join(dir, "staged.conf");
    writeFileSync(staged, "[program:x]\n");
    const s = { "config-dir": confDir } as Parameters<typeof installProgramsScript>[0]["s"];
    const r = await bash(installProgramsScript({ s, group: "grp", staged, record: path.join(dir, "record", "grp.conf"), sudo: false }), { PATH: `${bin}:${stubs}:${process.env.PATH}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`supervisor rejected ${confDir}/grp.conf: ERROR (no such file)\n`);
    expect(existsSync(path.join(confDir, "grp.conf"))).toBe(false);
    notPwned();
  });

  it("a release directory that already exists is named verbatim (release id with $(…) and a double quote); the lock is given back", async () => {
    const p = releasePaths(path.join(dir, "deploy"), 'r1$(slipway-pwn)"`slipway-pwn`');
    mkdirSync(p.release, { recursive: true });
    const owner = { run: "run 1", actor: "a", sha: "abc", host: "h", since: "2026-12-01T10:00:00Z", expires: "2999-01-01T00:00:00Z" };
    const r = await bash(prepareAndLockScript(p, { sudo: false, owner }));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`release directory ${p.release} already exists; refusing to overwrite it\n`);
    expect(existsSync(p.lock)).toBe(false);
    notPwned();
  });

  it("the uploaded dump of a restore (backup id with ' and $(…)) is removed on exit by a trap whose text holds no value", async () => {
    const file = path.join(dir, "slipway-restore-x'$(slipway-pwn)'.dump");
    for (const body of [sh`echo restoring`, sh`trap 'echo own trap' EXIT; exit 3`]) {
      writeFileSync(file, "dump");
      const r = await bash(removeOnExit(file, body));
      expect(existsSync(file), r.stderr).toBe(false);
      notPwned();
    }
    // the body's exit status is the script's; a trap of its own still runs
    const r = await bash(removeOnExit(file, sh`trap 'echo own trap' EXIT; exit 3`));
    expect([r.code, r.stdout]).toEqual([3, "own trap\n"]);
  });

  it("a backup directory with ', \", \\ and $(…) reaches sqlite3's .backup as one file name (issue item 6)", async () => {
    const db = path.join(dir, "live.db");
    execFileSync("sqlite3", [db, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);"]);
    const backups = path.join(dir, `it's "the" \\dir $(slipway-pwn)`);
    const id = "app-20261201T100000000Z-1a2b";
    const r = await bash(sqliteBackupScript({ sqlite3: "sqlite3", db, dir: backups, id, sudo: false, tables: ["t"] }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("slipway:count t 2");
    expect(execFileSync("sqlite3", [path.join(backups, `${id}.sqlite3`), "SELECT count(*) FROM t"]).toString().trim()).toBe("2");
    notPwned();
    expect(sqliteDotArg('a"b\\c\nd')).toBe('"a\\"b\\\\c\\nd"');
  });

  it("a unit or container that starts with - is an operand, never an option (`--` before it)", () => {
    expect(systemdShowScript({ systemctl: ["systemctl"], unit: "-H" }).text).toMatch(/ -- -H$/);
    expect(memoryScript({ systemctl: ["systemctl"], unit: "-H" }).text).toContain("--value -- -H");
    expect(composeLogsScript({ docker: ["docker"], sudo: false, container: "-f" }).text).toContain("-- -f");
    expect(curlScript("-o/tmp/x", 1000).text).toMatch(/ -- -o\/tmp\/x$/);
    const restart = restartAndWaitScript({ unit: "-x.service", sudo: false, reload: false, startTimeoutSec: 1, windowSec: 1 }).text;
    for (const cmd of ["systemctl show -p ActiveState -p NRestarts -p MainPID -- -x.service", 'systemctl "$action" -- -x.service', "systemctl reset-failed -- -x.service"]) expect(restart).toContain(cmd);
  });

  it("hosts.<h>.commands.psql / pg_dump / pg_restore replace the clients (words split on blanks), before binDir and PATH", () => {
    const at = { user: "u", dbname: "d", binDir: "/usr/lib/postgresql/15/bin" };
    expect(psqlCommand(at).text).toBe("/usr/lib/postgresql/15/bin/psql -X -q -At -v ON_ERROR_STOP=1 -f -   -U u -d d");
    const own = { ...at, tools: { psql: "sudo -u postgres /opt/pg/bin/psql", pg_dump: "/opt/pg/bin/pg_dump" } };
    expect(psqlCommand(own).text).toBe("sudo -u postgres /opt/pg/bin/psql -X -q -At -v ON_ERROR_STOP=1 -f -   -U u -d d");
    expect(pgToolVersionCommand(own, "pg_dump").text).toBe("/opt/pg/bin/pg_dump --version");
    expect(pgRestoreCommand(own, sh`--list`).text).toBe("/usr/lib/postgresql/15/bin/pg_restore --list");
  });

  it("a hostile value in a heredoc (withHeredoc) comes back byte for byte", async () => {
    const values = hostileStrings(80, 17).filter((v) => v !== "");
    const r = await bash(new Shell(values.map((v) => withHeredoc(sh`cat`, v).text + "\nprintf '\\0'").join("\n")));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(values.map((v) => (v.endsWith("\n") ? v : `${v}\n`)));
  });
});

// ---------------------------------------------------------------------------------------------
// Every builder of src/commands that takes string values, with `v` in every string field.

const loc = (v: string): PgLocation => ({ container: v, docker: v, sudo: true, host: v, port: 5432, user: v, dbname: v, binDir: v });
const client = (v: string): ClientOptions => ({ appName: v, passEnv: ["PGPASSWORD"] });
const compose = (v: string): ComposeCommand => ({ docker: ["sudo", "-n", v], compose: [v, "compose"], version: "2.20.0", v2: true });
type SupervisorS = Parameters<typeof supervisorctl>[0];
const supervisor = (v: string) => ({ "config-dir": v, "supervisord-config": v }) as SupervisorS;
const owner = (v: string) => ({ run: v, actor: v, sha: v, host: v, since: v, expires: v });

const builders: Record<string, (v: string) => Shell> = {
  pgDumpScriptToHost: (v) => pgDumpScript({ loc: loc(v), env: sh`export PGAPPNAME=${v}`, client: client(v), dest: { dir: v, id: v, sudo: true } }),
  pgDumpScriptToStdout: (v) => pgDumpScript({ loc: { user: v, dbname: v }, env: sh`:`, client: client(v) }),
  pgRestoreVerifyScript: (v) => pgRestoreVerifyScript({ loc: loc(v), env: sh`:`, client: client(v), file: v, scratch: v }),
  sqliteBackupScript: (v) => sqliteBackupScript({ sqlite3: v, db: v, dir: v, id: v, sudo: true, tables: [v, v] }),
  retentionScript: (v) => retentionScript({ dir: v, keep: 3, keepDays: 2 }),
  removeOnExit: (v) => removeOnExit(v, sh`echo ${v}`),
  detectComposeScript: (v) => detectComposeScript({ docker: v, compose: v }),
  composeConfigScript: (v) => composeConfigScript([v, "-f", v], { dir: v, staged: v, files: [v] }),
  privateFileScript: (v) => privateFileScript(v, "KEY=value\n"), // its text is a heredoc body by design (withHeredoc, checked byte for byte above)
  detectComposeScriptDefault: (v) => sh`${detectComposeScript({ docker: v })}`,
  prepareImagesScript: (v) =>
    new Shell(["missing", "always", "never"].map((pullPolicy) => prepareImagesScript(compose(v), { buildArgs: [v, "-f", v], plan: { build: [v, v], pull: [{ service: v, image: v }], pullPolicy: pullPolicy as "missing" }, project: v, releaseId: v }).text).join("\n")),
  waitHealthyScript: (v) => waitHealthyScript(compose(v), { project: v, services: { [v]: v, b: v }, timeoutSec: 5, windowSec: 5, logLines: 10 }),
  waitHealthyScriptFile: (v) => waitHealthyScript(compose(v), { project: v, services: { file: v }, timeoutSec: 5, windowSec: 0 }),
  pruneImagesScript: (v) => pruneImagesScript(compose(v), { project: v, keepReleases: [v, v], keep: 2 }),
  curlScript: (v) => curlScript(v, 1500),
  tcpScript: (v) => tcpScript(v, 443, 1500),
  commandScript: (v) => commandScript(v),
  systemdShowScript: (v) => systemdShowScript({ systemctl: [v, v], unit: v }),
  journalTailScript: (v) => journalTailScript({ unit: v, sudo: true, lines: 5 }),
  supervisorStatusScript: (v) => supervisorStatusScript({ supervisorctl: [v], config: v, sudo: true, target: v }),
  composeInspectScript: (v) => composeInspectScript({ docker: [v], sudo: true, service: v, projects: [v, v] }),
  composeLogsScript: (v) => composeLogsScript({ docker: [v], sudo: true, container: v }),
  fileTimesScript: (v) => fileTimesScript(v),
  pathStatusScript: (v) => pathStatusScript(v),
  memoryScript: (v) => memoryScript({ systemctl: [v], unit: v }),
  sqliteQueryScript: (v) => sqliteQueryScript({ sqlite3: [v], path: v, query: v, timeoutMs: 1000 }),
  // hosts.<h>.commands.psql / pg_dump / pg_restore: command words (split on blanks), each one word of data
  pgCommandsOfTheHost: (v) => {
    const l = { ...loc(v), tools: { psql: `sudo -u ${v} psql`, pg_dump: v, pg_restore: `${v} ${v}` } };
    return sh`${psqlCommand(l, client(v))} < /dev/null; ${pgDumpCommand(l, client(v))}; ${pgRestoreCommand(l, sh`-d ${v}`, client(v))}; ${pgToolVersionCommand(l, "pg_dump")}`;
  },
  pgCommands: (v) => sh`${psqlCommand(loc(v), client(v))} < /dev/null; ${pgDumpCommand(loc(v), { ...client(v), snapshot: new Shell('"$snap"') })}; ${pgRestoreCommand(loc(v), sh`-d ${v}`, client(v))}; ${pgToolVersionCommand(loc(v), "pg_restore")}`,
  withHeredoc: (v) => withHeredoc(sh`cat > ${v}`, v),
  prepareAndLockScript: (v) => prepareAndLockScript(releasePaths(v, v), { sudo: true, owner: owner(v), waitSec: 5 }),
  releaseLockScript: (v) => releaseLockScript(releasePaths(v, v), v),
  linkSharedScript: (v) => linkSharedScript(releasePaths(v, v), [v, v], v),
  switchCurrentScript: (v) => switchCurrentScript(releasePaths(v, v), v),
  pruneReleasesScript: (v) => sh`${pruneReleasesScript(releasePaths(v, v), 3, v)}\n${pruneReleasesScript(releasePaths(v, v), 3, new Shell('"$slipway_previous"'))}`,
  ledgerScripts: (v) => sh`${appendLedgerScript(v, { v, [v]: [v] })}\n${readLedgerScript(v)}`,
  receiveReleaseScript: (v) => receiveReleaseScript(releasePaths(v, v), { size: 10, sha256: v, gzip: true }),
  appendHostLedgerScript: (v) => appendHostLedgerScript(v, { v, [v]: v }, { [v]: { string: "slipway_previous" }, b: { bool: "x" }, c: { strings: "list" } }),
  supervisorctl: (v) => supervisorctl(supervisor(v), true, sh`status ${v}`),
  installProgramsScript: (v) => installProgramsScript({ s: supervisor(v), group: v, staged: v, record: v, sudo: true }),
  restartGroupAndWaitScript: (v) => restartGroupAndWaitScript({ s: supervisor(v), group: v, sudo: true, startTimeoutSec: 5, windowSec: 5 }),
  verifyAndInstallUnitScript: (v) => sh`${verifyAndInstallUnitScript({ unit: v, staged: v, sudo: true })}\n${verifyAndInstallUnitScript({ unit: v, staged: v, sudo: true, resolve: { current: v, release: v } })}`,
  restartAndWaitScript: (v) => sh`${restartAndWaitScript({ unit: v, sudo: true, reload: "if-unchanged", startTimeoutSec: 5, windowSec: 5 })}\n${restartAndWaitScript({ unit: v, sudo: false, reload: true, startTimeoutSec: 5, windowSec: 5 })}`,
  // an empty or multi-line match is refused by the builder itself (test/unit/crontab-edit.test.ts)
  removeCronScript: (v) => removeCronScript({ user: v, match: /^[^\n\r]+$/.test(v) ? v : `m${v.replace(/[\n\r]/g, "")}`, sudo: true }),
  installLogrotateScript: (v) => installLogrotateScript({ name: v, staged: v, sudo: true }),
  alembicScript: (v) => alembicScript({ loc: loc(v), pgEnv: sh`export PGAPPNAME=${v}`, client: client(v), cwd: v, env: { APP_SETTING: v }, alembic: [v, v], table: v, lockTimeoutSec: 5, dryRun: false }),
  alembicScriptDryRun: (v) => alembicScript({ loc: loc(v), pgEnv: sh`:`, client: client(v), cwd: v, env: { APP_SETTING: v }, alembic: [v], table: v, lockTimeoutSec: 5, dryRun: true }),
};

/** Each case as the runner sends it: the body of a function (Remote.run / runLocal wrap it so). */
function combined(scripts: Shell[]): { text: string; caseAt: (line: number) => number } {
  const starts: number[] = [];
  let line = 1;
  const parts = scripts.map((s, i) => {
    starts.push(line);
    const part = `case_${i}() {\n${s.text}\n}`;
    line += part.split("\n").length;
    return part;
  });
  return { text: parts.join("\n") + "\n", caseAt: (l) => starts.filter((s) => s <= l).length - 1 };
}

/*
 * shellcheck codes left out, and why (all others count, SC2086/SC2206 word splitting included: a
 * value is never a $variable of the script, so those can only flag the script's own variables, and
 * only the ones named in SPLIT_ON_PURPOSE may be split):
 *   SC2016          expressions in single quotes do not expand: that is how a value stays data ('$(id)'),
 *                   and our own single-quoted text (traps, awk programs, bash -c '…"$1"…') is deliberate;
 *   SC1003, SC2028  a value with backslashes in single quotes / given to echo: bash prints it as it is;
 *   SC2088          a ~ in quotes does not expand: a value's ~ is a character, not a home directory;
 *   SC2089, SC2090  "quotes/backslashes in this variable are literal": a value holding a quote, kept as data;
 *   SC2215, SC2286–SC2289  an odd command name: a configured command (commands.docker, .sqlite3,
 *                   .compose, .alembic…) is a word in command position by design; shellcheck warns about
 *                   its spelling (empty, a space, a flag…), which the value decides, not about a splice;
 *   SC2094          reading and writing one file in a pipeline: this test puts one value in every field;
 *   SC2024          sudo does not affect redirects: our redirects are the login user's own files, on purpose
 *                   (privileged writes go through install under sudo);
 *   SC2034, SC2154  a variable unused / never assigned: each builder is one fragment of a larger script
 *                   (slipway_unit_changed, slipway_previous, snap… are set or read by other fragments);
 *   SC2317          unreachable command: functions called from traps, and each case is a function here;
 *   SC2012, SC2013, SC2143, SC2164, SC1007  style of our fixed text, whatever the value: ls over our own
 *                   backup names, `for e in $(cat FILE)` over our own images file, grep inside [ -n ],
 *                   cd under set -e, `local out=`.
 */
const EXCLUDED = ["SC2016", "SC1003", "SC2028", "SC2088", "SC2089", "SC2090", "SC2215", "SC2286", "SC2287", "SC2288", "SC2289", "SC2094", "SC2024", "SC2034", "SC2154", "SC2317", "SC2012", "SC2013", "SC2143", "SC2164", "SC1007"];
/** The script's own variables it splits on purpose: container ids, `set -- $line`, restart signatures, the glob. */
const SPLIT_ON_PURPOSE = ["$ids", "$line", "$first", "$sig", "$pattern"];

type Finding = { line: number; column: number; endColumn: number; code: string; message: string };
function shellcheck(text: string): Promise<Finding[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("shellcheck", ["-s", "bash", "-f", "json1", "-e", EXCLUDED.join(","), "-"], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.on("error", reject);
    child.on("close", () => {
      try {
        const json = JSON.parse(Buffer.concat(out).toString("utf8") || '{"comments":[]}') as { comments: (Omit<Finding, "code"> & { code: number })[] };
        resolve(json.comments.map((c) => ({ ...c, code: `SC${c.code}` })));
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.end(text);
  });
}

// the harness's fixed fragments (every metacharacter, quotes, newlines, $(…), unicode, and all of them
// joined) and 25 random mixes for bash -n; shellcheck (slow: ~15 ms a case) gets a bounded sample
const HOSTILE = hostileStrings(88, 1717);
const FOR_SHELLCHECK = [
  ...["", "'", '"', "\\", "\n", "-n", "$(touch /tmp/slipway-pwned)", "`id`", "*", "}\n", "%s", "\u202e", "'\\''"].filter((v) => HOSTILE.includes(v)),
  HOSTILE.find((v) => v.includes("rm -rf /") && v.includes("日本語") && v.includes("__slipway_main"))!, // every fragment in one value
  ...HOSTILE.slice(-3), // random mixes
];

describe("every builder with hostile values", () => {
  it("is valid bash (bash -n)", () => {
    const problems: string[] = [];
    for (const [name, build] of Object.entries(builders)) {
      const scripts = HOSTILE.map((v) => build(v));
      if (spawnSync("bash", ["-n"], { input: combined(scripts).text, encoding: "utf8" }).status === 0) continue;
      // find the case(s) bash refuses, one at a time
      scripts.forEach((s, i) => {
        const one = spawnSync("bash", ["-n"], { input: `f() {\n${s.text}\n}\n`, encoding: "utf8" });
        if (one.status !== 0) problems.push(`${name} with ${JSON.stringify(HOSTILE[i])}: bash -n: ${one.stderr.trim()}`);
      });
    }
    expect(problems.slice(0, 30)).toEqual([]);
  });

  it("passes shellcheck", { timeout: 60_000 }, async () => {
    expect(FOR_SHELLCHECK.length).toBe(17);
    expect(FOR_SHELLCHECK.every((v) => v !== undefined)).toBe(true);
    const problems: string[] = [];
    const queue = Object.entries(builders);
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [name, build] = next;
        const { text, caseAt } = combined(FOR_SHELLCHECK.map((v) => build(v)));
        const lines = text.split("\n");
        for (const c of await shellcheck(text)) {
          // columns count code points
          const flagged = Array.from(lines[c.line - 1]!).slice(c.column - 1, c.endColumn - 1).join("");
          if ((c.code === "SC2086" || c.code === "SC2206") && SPLIT_ON_PURPOSE.includes(flagged)) continue;
          problems.push(`${name} with ${JSON.stringify(FOR_SHELLCHECK[caseAt(c.line)])}: ${c.code} ${c.message} at ${JSON.stringify(flagged)} in ${JSON.stringify(lines[c.line - 1])}`);
        }
      }
    };
    await Promise.all([worker(), worker()]);
    expect(problems.slice(0, 30)).toEqual([]);
  });

  it("puts every value into a single-quoted word of its own, read by bash as a word (never inside \"…\", a '…' string, $((…)) or a heredoc)", () => {
    const marker = "\u0001slipway-value\u0002";
    const problems: string[] = [];
    for (const [name, build] of Object.entries(builders)) {
      if (name === "withHeredoc") continue; // its input is the heredoc's body, by design (checked byte for byte above)
      const text = build(marker).text;
      const { states, balanced } = lexBash(text);
      if (!balanced) problems.push(`${name}: the script does not end where it began (unbalanced quotes or substitutions)`);
      let found = 0;
      for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1)) {
        found++;
        if (states[at] !== "sq") problems.push(`${name}: a value is ${states[at]} at …${JSON.stringify(text.slice(Math.max(0, at - 60), at + marker.length + 20))}`);
      }
      if (found === 0) problems.push(`${name}: no value found in the script (the test does not reach its fields)`);
    }
    expect(problems).toEqual([]);
  });

  it("the lexer of this test tells a value in a word from one spliced into \"…\", a trap's '…' or a heredoc", () => {
    const m = "\u0001v\u0002";
    const at = (t: string) => lexBash(t).states[t.indexOf(m)];
    expect(at(sh`echo ${m}`.text)).toBe("sq");
    expect(at(sh`x=$(cat ${m} | tr a b)`.text)).toBe("sq");
    expect(at(sh`echo "a $(cat ${m})"`.text)).toBe("sq");
    expect(at(sh`echo "a ${m}"`.text)).toBe("dq");
    expect(at(sh`trap 'rm -f ${m}' EXIT`.text)).toBe("word");
    expect(at(`cat <<'EOF'\n${m}\nEOF`)).toBe("heredoc");
    expect(lexBash(sh`case "$x" in *"a"*|b) echo ${m} ;; esac; y=$(case a in a) echo ;; esac)`.text).balanced).toBe(true);
  });
});

type LexState = "word" | "sq" | "dq" | "param" | "arith" | "backtick" | "comment" | "heredoc";

/**
 * A small bash lexer for the scripts slipway renders: the quoting state of every character.
 * Frames: a command list (top level, $(…) or `…`), "…", ${…} and $((…)); '…' and $'…' are scanned
 * whole; heredoc bodies are skipped to their delimiter line.
 */
function lexBash(text: string): { states: LexState[]; balanced: boolean } {
  type Frame = { kind: "cmd" | "dq" | "param" | "arith" | "backtick"; depth: number; sub: boolean };
  const states: LexState[] = new Array(text.length);
  const stack: Frame[] = [{ kind: "cmd", depth: 0, sub: false }];
  const heredocs: string[] = [];
  const word = (i: number) => i === 0 || /[\s;&|()<>]/.test(text[i - 1]!);
  let i = 0;
  while (i < text.length) {
    const f = stack[stack.length - 1]!;
    const c = text[i]!;
    const base: LexState = f.kind === "cmd" ? "word" : f.kind;
    states[i] = base;
    if (f.kind === "cmd" || f.kind === "backtick") {
      if (c === "\\") { states[i + 1] = base; i += 2; continue; }
      if (c === "'" || (c === "$" && text[i + 1] === "'")) {
        const ansi = c === "$";
        let j = i + (ansi ? 2 : 1);
        while (j < text.length && text[j] !== "'") j += ansi && text[j] === "\\" ? 2 : 1;
        for (let k = i + 1; k < j; k++) states[k] = "sq";
        states[j] = base;
        i = j + 1;
        continue;
      }
      if (c === '"') { stack.push({ kind: "dq", depth: 0, sub: false }); i++; continue; }
      if (c === "#" && word(i)) { while (i < text.length && text[i] !== "\n") states[i++] = "comment"; continue; }
      if (c === "`" && f.kind === "backtick") { stack.pop(); i++; continue; }
      if (c === "`") { stack.push({ kind: "backtick", depth: 0, sub: true }); i++; continue; }
      if (c === "<" && text[i + 1] === "<" && text[i + 2] !== "<") {
        const m = /^<<-?[ \t]*(?:'([^']*)'|"([^"]*)"|([A-Za-z0-9_]+))/.exec(text.slice(i));
        if (m) { heredocs.push(m[1] ?? m[2] ?? m[3]!); for (let k = i; k < i + m[0].length; k++) states[k] = base; i += m[0].length; continue; }
      }
      if (c === "\n" && heredocs.length) {
        i++;
        for (const delim of heredocs.splice(0)) {
          while (i < text.length) {
            const end = text.indexOf("\n", i) < 0 ? text.length : text.indexOf("\n", i);
            const line = text.slice(i, end);
            for (let k = i; k <= end && k < text.length; k++) states[k] = "heredoc";
            i = end + 1;
            if (line === delim) break;
          }
        }
        continue;
      }
      if (c === "(") f.depth++;
      if (c === ")") {
        if (f.depth === 0 && f.sub) { stack.pop(); i++; continue; }
        f.depth = Math.max(0, f.depth - 1); // a case pattern's ) at the top level
      }
    } else if (f.kind === "dq") {
      if (c === "\\") { states[i + 1] = "dq"; i += 2; continue; }
      if (c === '"') { stack.pop(); i++; continue; }
      if (c === "`") { stack.push({ kind: "backtick", depth: 0, sub: true }); i++; continue; }
    } else if (f.kind === "param") {
      if (c === "\\") { states[i + 1] = "param"; i += 2; continue; }
      if (c === "}") { stack.pop(); i++; continue; }
    } else if (f.kind === "arith") {
      if (c === "(") f.depth++;
      if (c === ")") {
        if (f.depth === 0 && text[i + 1] === ")") { states[i + 1] = "arith"; stack.pop(); i += 2; continue; }
        f.depth--;
      }
    }
    if (c === "$" && f.kind !== "arith") {
      if (text.startsWith("$((", i)) { stack.push({ kind: "arith", depth: 0, sub: true }); i += 3; continue; }
      if (text[i + 1] === "(") { stack.push({ kind: "cmd", depth: 0, sub: true }); i += 2; continue; }
      if (text[i + 1] === "{") { stack.push({ kind: "param", depth: 0, sub: true }); i += 2; continue; }
    }
    i++;
  }
  return { states, balanced: stack.length === 1 && stack[0]!.depth === 0 && heredocs.length === 0 };
}

// ---------------------------------------------------------------------------------------------

describe("backup metadata read back is parsed, not trusted", () => {
  const id = "crypto-20261201T100000000Z-r4242-1a2b";
  const hostDir = "/var/backups/slipway/crypto";
  const good = (o: Partial<BackupMeta> = {}): Record<string, unknown> => ({
    id, database: "crypto", engine: "postgres", where: "host", host: "db1", path: `${hostDir}/${id}.dump`, size: 1234, sha256: "a".repeat(64),
    verified: true, verification: "list", counts: { "public.t": 3 }, serverVersion: 15, created: "2026-12-01T10:00:00.000Z", run: "acme/app run 4242", runId: "4242", ...o,
  });
  const fakeHost = (stdout: string, calls: string[] = []) => ({ name: "db1", run: async (s: Shell) => (calls.push(s.text), { stdout, stderr: "", code: 0 }) }) as unknown as Remote;

  it("accepts what writeMeta writes, as it is", async () => {
    const meta = await findBackup(fakeHost(JSON.stringify(good(), null, 2)), hostDir, path.join(dir, "no-runner-dir"), id);
    expect(meta).toEqual(good());
  });

  it.each([
    ["a path outside the backup directory (the runner's own file)", { where: "host", path: "/etc/hostname" }, /path "\/etc\/hostname" is not the dump beside it/],
    ["a path that climbs out with ..", { path: `${hostDir}/../../../etc/shadow.dump` }, /is not the dump beside it/],
    ["where: runner in a host's metadata", { where: "runner", path: "/etc/hostname" }, /says the dump is on the runner, but it was found on the host/],
    ["an id with /..", { id: `${id}/..` }, /id: not a backup id/],
    ["another backup's id", { id: "crypto-20261201T100000000Z-r4242-ffff" }, /it describes backup "crypto-20261201T100000000Z-r4242-ffff"/],
    ["a database the id is not of", { database: "other" }, /its id is not one of database "other"/],
    ["a sqlite file restored as postgres", { path: `${hostDir}/${id}.sqlite3` }, /is not a postgres backup/],
    ["a sha256 that is not one", { sha256: "$(reboot)" }, /sha256: not a SHA-256/],
    ["a size that is not a number", { size: "12; rm -rf /" as unknown as number }, /size:/],
  ])("refuses %s, naming the host and the file", async (_what, change, why) => {
    const text = JSON.stringify({ ...good(), ...change });
    const err = await findBackup(fakeHost(text), hostDir, path.join(dir, "no-runner-dir"), id).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect(err!.message).toContain(`refusing the metadata of backup ${id} in ${hostDir}/${id}.json on db1: `);
    expect(err!.message).toMatch(why);
  });

  it("refuses a runner-side metadata file that points anywhere but beside it", () => {
    const runnerDir = path.join(dir, "backups");
    expect(parseBackupMeta(JSON.stringify(good({ where: "runner", path: path.join(runnerDir, `${id}.dump`) })), { id, where: "runner", dir: runnerDir, source: "x" }).path).toBe(path.join(runnerDir, `${id}.dump`));
    expect(() => parseBackupMeta(JSON.stringify(good({ where: "runner", path: "/etc/passwd" })), { id, where: "runner", dir: runnerDir, source: `${runnerDir}/${id}.json on the runner` })).toThrow(
      `refusing the metadata of backup ${id} in ${runnerDir}/${id}.json on the runner: its path "/etc/passwd" is not the dump beside it`,
    );
    expect(() => parseBackupMeta("not json", { id, where: "runner", dir: runnerDir, source: "f" })).toThrow(/in f: not JSON/);
    // fetched with the artifact of the run that made it: the dump of that name beside it, never the path the other workspace had
    const moved = parseBackupMeta(JSON.stringify(good({ where: "runner", path: `/tmp/another-run/workspace/backups/${id}.dump` })), { id, where: "runner", dir: runnerDir, source: "x" });
    expect(moved.path).toBe(path.join(runnerDir, `${id}.dump`));
    expect(() => parseBackupMeta(JSON.stringify(good({ where: "runner", path: `/tmp/another-run/${id}.sqlite3.dump` })), { id, where: "runner", dir: runnerDir, source: "x" })).toThrow(/is not the dump beside it/);
  });

  it("refuses a backup id that is not one before asking any host, and reads the file with cat --", async () => {
    const calls: string[] = [];
    await expect(findBackup(fakeHost("", calls), hostDir, dir, "../../etc/passwd")).rejects.toThrow(/not a backup id: "..\/..\/etc\/passwd"/);
    expect(calls).toEqual([]);
    expect(await findBackup(fakeHost("", calls), hostDir, dir, id)).toBeUndefined();
    expect(calls).toEqual([`cat -- ${hostDir}/${id}.json 2>/dev/null || true`]);
  });

  it("a backup written to the runner is found and accepted there", () => {
    const runnerDir = path.join(dir, "runner-backups");
    mkdirSync(runnerDir, { recursive: true });
    const meta = good({ where: "runner", path: path.join(runnerDir, `${id}.dump`) });
    writeFileSync(path.join(runnerDir, `${id}.json`), JSON.stringify(meta));
    return expect(findBackup(undefined, hostDir, runnerDir, id)).resolves.toEqual(meta);
  });

  it("a runner-side dump whose SHA-256 is not its metadata's is never restored: refused before any command runs", async () => {
    const runnerDir = path.join(dir, "runner-tampered");
    mkdirSync(runnerDir, { recursive: true });
    writeFileSync(path.join(runnerDir, `${id}.dump`), "PGDMP but not the one that was taken");
    const meta = parseBackupMeta(JSON.stringify(good({ where: "runner", path: `/elsewhere/${id}.dump` })), { id, where: "runner", dir: runnerDir, source: "x" });
    const calls: string[] = [];
    const client = { describe: "crypto", location: {}, runScript: async (s: Shell) => (calls.push(s.text), { code: 0, stdout: "", stderr: "" }) } as unknown as PgClient;
    const err = await restorePostgres(client, meta).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect(err!.message).toMatch(new RegExp(`^refusing to restore ${id}: ${path.join(runnerDir, `${id}.dump`)} has SHA-256 [0-9a-f]{64}, its metadata records a{64} \\(a damaged or replaced dump\\); nothing was changed$`));
    expect(calls).toEqual([]);
  });
});
