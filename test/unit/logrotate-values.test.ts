// Issue #17, logrotate part: no value of an environment file changes the structure of a rendered
// logrotate config. Every hostile value fed into a field that reaches the config (a path pattern,
// create's mode/owner/group, the postrotate line) is either refused by validation (with
// env.yml:line:col) or rendered by logrotateText and read back by logrotate itself: `logrotate -d -f`
// (debug: it reads the configs and says what it would do, and does nothing) with a state file of
// this test, on all rendered configs at once, each rotating one real log of its own. What it read
// must be exactly:
//  - the log files it considers: the configured paths, one per path, in order (after logrotate's
//    own unquoting; none exists but the real log, so glob gives each pattern back as it is);
//  - create: the file it would create with the configured mode, owner and group (or the log's own
//    when left out), and no error but "unknown user/group" naming exactly the configured name when
//    this machine lacks it (then `logrotate -d` refuses the config at deploy, before it is installed);
//  - postrotate: exactly one script run, whose text is exactly the configured line.
// Counts (when this test was written; it asserts the first three and lower bounds of the others):
// 4 fields × 264 values = 1056 cases; 622 refused by validate, 434 read back by logrotate unchanged
// (23 of them create owners/groups this machine lacks, named exactly in logrotate's error).
// Per field accepted/refused: paths 159/105, create 6/258, create (owner and group) 26/238,
// postrotate 243/21.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { logrotateText } from "../../src/commands/systemd.js";
import { ConfigError, formatProblem, parseEnvironment } from "../../src/config/load.js";
import type { Service } from "../../src/config/schema.js";
import { hostileStrings } from "../harness/hostile.js";
import { tempDirs } from "../harness/temp.js";

const LOGROTATE = "/usr/sbin/logrotate";
const FP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
const work = tempDirs()("slipway-lrv-");

const extra = [
  "a.log /etc/passwd", "x\npostrotate\n touch /tmp/pwned\nendscript", "a b", "a\tb", "'", '"', "it's.log", `say "hi"`, "\\", "a\\", "{", "}", "a{b", "x}", "#x", "a#b", "*.log", "[ab].log",
  "?", "~root", "../../etc/passwd", "%d", "$HOME", "$(touch /tmp/pwned)", "`id`", ";", "a;b", "endscript", "endscript; touch /tmp/pwned", "  endscript", "\tendscript x", "endscripts",
  "xendscript", "Endscript", "endscript2", "postrotate", "}\n/etc/passwd {", "é日本😀", "\u00a0", "\u202e", "\x0b", "\x0c", "\x1b[31m",
  "0644", "0640 root root", "644 root", "7777 root root", "0644 0 0", "0644 root root x", "0644  root", "0644 root\troot", "0648 root", "root root", "0644 -r", "0644 trader trader",
  "root", "nobody", "0", "65534", "daemon", "trader", "app_2", "a.b-c", "a$",
];
const VALUES = [...extra, ...hostileStrings(200, 17)];

/** A systemd service with a logrotate block; `patch` sets the field under test. */
function envText(patch: (l: Record<string, unknown>) => void, realLog: string): string {
  const logrotate: Record<string, unknown> = { paths: [realLog], keep: 3, create: "0640 root root", postrotate: "/bin/true" };
  patch(logrotate);
  return stringify({ hosts: { d1: { address: "10.0.0.1", "host-key": FP } }, services: { app: { kind: "systemd", hosts: ["d1"], "deploy-to": "/srv/app", exec: "app", logrotate } } });
}

interface Case { field: string; value: string; patch: (l: Record<string, unknown>, i: number) => void }
const cases: Case[] = [];
for (const value of VALUES) {
  const one = (field: string, patch: Case["patch"]) => cases.push({ field, value, patch });
  // under a directory that does not exist: logrotate considers each pattern exactly as it read it
  one("paths", (l, i) => (l.paths = [...(l.paths as string[]), `${work}/none/c${i}/${value}`]));
  one("create", (l) => (l.create = value));
  one("create (owner and group)", (l) => (l.create = `0640 ${value} ${value}`));
  one("postrotate", (l) => (l.postrotate = value));
}

/** name → id of this machine's users and groups (logrotate resolves names, then numeric ids that exist). */
function ids(file: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [name, , id] = line.split(":");
    if (name && id) m.set(name, Number(id));
  }
  return m;
}
const users = ids("/etc/passwd");
const groups = ids("/etc/group");
const resolve = (m: Map<string, number>, n: string) => m.get(n) ?? ([...m.values()].includes(Number(n)) && /^\d+$/.test(n) ? Number(n) : undefined);

/** What logrotate read per config: the logs it considered, the file it would create, the scripts it would run, its errors. */
interface Read { considered: string[]; created: string[]; scripts: string[]; errors: string[] }
function logrotateRead(configs: string[], logs: string[]): Read[] {
  const r = spawnSync(LOGROTATE, ["-d", "-f", "-s", path.join(work, "state"), ...configs], { encoding: "utf8", maxBuffer: 1 << 28 });
  const lines = `${r.stdout}${r.stderr}`.split("\n");
  const reads = configs.map((): Read => ({ considered: [], created: [], scripts: [], errors: [] }));
  let cur: Read | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    // while reading, messages belong to the config read; then to the log considered last
    const reading = /^reading config file (.*)$/.exec(line);
    if (reading) cur = reads[configs.indexOf(reading[1]!)];
    const err = /^error: (.*)$/.exec(line);
    if (err) {
      cur!.errors.push(err[1]!);
      continue;
    }
    const considering = /^considering log (.*)$/.exec(line);
    if (considering) {
      // the first log of each config is its real log: it starts that config's part of the output
      const at = logs.indexOf(considering[1]!);
      if (at >= 0) cur = reads[at];
      cur!.considered.push(considering[1]!);
      continue;
    }
    if (line.startsWith("creating new ")) cur!.created.push(line.slice("creating new ".length));
    // a script is printed as `running script with args LOG ROTATED: "` + its text + `"`; its text here is "\n<line>\n"
    if (/^running script with args .*: "$/.test(line)) {
      cur!.scripts.push(lines[i + 1]!);
      expect(lines[i + 2], `the script of ${cur!.considered[0]} has one line`).toBe('"');
      i += 2;
    }
  }
  return reads;
}

function validated(text: string): { s?: Extract<Service, { kind: "systemd" }>; problems: string[] } {
  try {
    return { s: parseEnvironment(text, "env.yml").services.app as Extract<Service, { kind: "systemd" }>, problems: [] };
  } catch (e) {
    if (e instanceof ConfigError) return { problems: e.problems.map(formatProblem) };
    throw e;
  }
}

/** The config as logrotateText renders it, in its own directory with its real log (non-empty: notifempty). */
function stage(dir: string, patch: Case["patch"], i: number): { problems: string[]; config?: string; log: string; l?: NonNullable<Service["logrotate"]> } {
  const log = path.join(dir, "app.log");
  const v = validated(envText((l) => patch(l, i), log));
  if (!v.s) return { problems: v.problems, log };
  mkdirSync(dir, { recursive: true });
  writeFileSync(log, "a line\n");
  const config = path.join(dir, "logrotate.conf");
  writeFileSync(config, logrotateText(v.s)!, { mode: 0o644 });
  return { problems: [], config, log, l: v.s.logrotate };
}

describe("logrotate configs: every value is data (issue #17)", () => {
  it("logrotate is here to read the rendered configs back", () => expect(spawnSync(LOGROTATE, ["--version"]).status).toBe(0));

  it("hostile values in every field that reaches the config: refused at env.yml:line:col, or read back by logrotate unchanged", { timeout: 60_000 }, () => {
    const accepted: { c: Case; config: string; log: string; l: NonNullable<Service["logrotate"]> }[] = [];
    const refused: Record<string, number> = {};
    cases.forEach((c, i) => {
      const st = stage(path.join(work, `c${i}`), c.patch, i);
      if (!st.config) {
        expect(st.problems.length).toBeGreaterThan(0);
        for (const p of st.problems) expect(p, `${c.field} ${JSON.stringify(c.value)}`).toMatch(/^env\.yml:[1-9]\d*:[1-9]\d*: services\.app\.logrotate\./);
        refused[c.field] = (refused[c.field] ?? 0) + 1;
        return;
      }
      accepted.push({ c, config: st.config, log: st.log, l: st.l! });
    });
    const reads = logrotateRead(accepted.map((a) => a.config), accepted.map((a) => a.log));
    let unknownNames = 0;
    accepted.forEach((a, i) => {
      const label = `${a.c.field} ${JSON.stringify(a.c.value)}`;
      const r = reads[i]!;
      const [mode, owner, group] = a.l.create!.split(" ");
      const uid = owner === undefined ? statSync(a.log).uid : resolve(users, owner);
      const gid = group === undefined ? statSync(a.log).gid : resolve(groups, group);
      if (uid === undefined || gid === undefined) {
        // a name this machine lacks: logrotate names exactly the configured word and skips the config
        const unknown = uid === undefined ? `unknown user '${owner}'` : `unknown group '${group}'`;
        expect(r.errors, label).toEqual([expect.stringMatching(new RegExp(`^${escape(a.config)}:\\d+ ${escape(unknown)}$`)), expect.stringMatching(/^found error in .*, skipping$/)]);
        unknownNames++;
        return;
      }
      expect(r.errors, label).toEqual([]);
      expect(r.considered, label).toEqual(a.l.paths);
      expect(r.created, label).toEqual([`${a.log} mode = 0${parseInt(mode!, 8).toString(8)} uid = ${uid} gid = ${gid}`]);
      expect(r.scripts, label).toEqual([`        ${a.l.postrotate}`]);
    });
    const fields = [...new Set(cases.map((c) => c.field))];
    for (const f of fields) {
      expect(accepted.filter((a) => a.c.field === f).length, f).toBeGreaterThan(0);
      expect(refused[f] ?? 0, f).toBeGreaterThan(0);
    }
    expect([fields.length, VALUES.length, cases.length]).toEqual([4, 264, 1056]);
    // lower bounds of the counts recorded above (a stricter rule elsewhere in the schema may move a few)
    expect(Object.values(refused).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(580);
    expect(accepted.length).toBeGreaterThanOrEqual(400);
    expect(accepted.length - unknownNames).toBeGreaterThanOrEqual(380);
  });
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("issue #17 reproducers (logrotate)", () => {
  const problems = (patch: Case["patch"]) => validated(envText((l) => patch(l, 0), "/var/log/app/a.log")).problems;
  const readOne = (name: string, l: Record<string, unknown>) => {
    const dir = path.join(work, name);
    mkdirSync(dir, { recursive: true });
    const log = path.join(dir, "app.log");
    writeFileSync(log, "a line\n");
    const svc = { kind: "systemd", logrotate: { keep: 3, frequency: "daily", compress: true, copytruncate: false, ...l, paths: [log, ...((l.paths as string[]) ?? [])] } } as unknown as Service;
    const config = path.join(dir, "logrotate.conf");
    writeFileSync(config, logrotateText(svc)!);
    return logrotateRead([config], [log])[0]!;
  };

  it("a newline in create adds no postrotate script", () => {
    const pwn = "0644 root root\npostrotate\n touch /tmp/pwned\nendscript";
    expect(problems((l) => (l.create = pwn))).toEqual([
      expect.stringMatching(/^env\.yml:\d+:\d+: services\.app\.logrotate\.create: a newline, carriage return or NUL would start another line of the logrotate configuration$/),
      expect.stringMatching(/^env\.yml:\d+:\d+: services\.app\.logrotate\.create: MODE \[OWNER \[GROUP\]\]/),
    ]);
    // the writer refuses it too; and without the newline the words are create's arguments, which logrotate refuses
    expect(() => readOne("create-nl", { create: pwn })).toThrow(/logrotate: a newline/);
    expect(readOne("create-words", { create: "0644 root root postrotate touch /tmp/pwned endscript" })).toMatchObject({ scripts: [], errors: [expect.stringMatching(/extra arguments for create$/), expect.stringMatching(/^found error in .*, skipping$/)] });
  });

  it("a space in a logrotate path adds no pattern", () => {
    expect(problems((l) => (l.paths = ["/var/log/app/*.log /etc/passwd"]))).toEqual([expect.stringMatching(/^env\.yml:\d+:\d+: services\.app\.logrotate\.paths\.0: no whitespace: logrotate reads each word as another path pattern$/)]);
    // validation refuses it (a list of two paths was more likely meant); the writer would still write one quoted pattern
    const spaced = `${work}/none/*.log /etc/passwd`;
    const r = readOne("space", { paths: [spaced, `${work}/none/it's "x".log`], postrotate: "/bin/true" });
    expect(r.considered.slice(1)).toEqual([spaced, `${work}/none/it's "x".log`]);
    expect(r.errors).toEqual([]);
  });

  it("postrotate: one script with exactly the configured line; 'endscript' as its first word is refused", () => {
    const line = `kill -HUP "$(cat /run/app.pid)" ; echo '}' endscript # done`;
    expect(readOne("post", { postrotate: line }).scripts).toEqual([`        ${line}`]);
    expect(problems((l) => (l.postrotate = " endscript; touch /tmp/pwned"))[0]).toMatch(/logrotate\.postrotate: a line starting with the word 'endscript' ends logrotate's script there$/);
    expect(() => readOne("post-end", { postrotate: "endscript" })).toThrow(/would end the script/);
  });

  it("braces and backslashes in a path are refused (logrotate ends the path list at a brace whatever the quoting)", () => {
    expect(problems((l) => (l.paths = ["/var/log/a}b.log"]))[0]).toMatch(/logrotate\.paths\.0: no '\{', '\}' or '\\'/);
    expect(problems((l) => (l.paths = ["/var/log/a\\b.log"]))[0]).toMatch(/logrotate\.paths\.0: no '\{', '\}' or '\\'/);
  });
});
