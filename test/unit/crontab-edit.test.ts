// Issue #17, crontab part: the replaces-cron edit removes exactly the crontab lines that contain the
// match (one literal string, byte for byte), whatever the match and whatever else the crontab holds.
// Every hostile value of replaces-cron.match and .user is either refused by validation (with
// env.yml:line:col) or put into the REAL script removeCronScript renders, run by bash (under
// `set -euo pipefail` and a UTF-8 locale, as on a host) on a sample crontab holding the match in one
// line among lines a careless edit would break (comments, blank lines, a line that is not UTF-8,
// backslashes, trailing spaces, a trailing blank line). `crontab` itself is the only stand-in: a
// script on PATH that reads and writes a file (the cron package is not installed here). Afterwards:
//  - the crontab is the sample minus exactly the lines that contain the match, byte for byte (the
//    line that holds it, and only the other lines that happen to contain it too, e.g. for '*');
//  - exactly those lines are reported (slipway:cron-removed, base64) and kept in slipway_cron_removed;
//  - `crontab -u` got exactly the configured user.
// Counts (when this test was written; it asserts the first three and lower bounds of the others):
// 2 fields, 281 cases (match × 184 values, user × 97 values); 101 refused by validate (match 12,
// user 89: a login name is letters, digits, '_', '.', '-'), 180 run by bash with the crontab edited
// exactly (match 172, of which 142 occur in exactly one line of the sample, which alone was removed;
// user 8, passed to `crontab -u` unchanged).
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { quote } from "../../src/commands/quote.js";
import { removeCronScript } from "../../src/commands/systemd.js";
import { ConfigError, formatProblem, parseEnvironment } from "../../src/config/load.js";
import type { Service } from "../../src/config/schema.js";
import { hostileStrings } from "../harness/hostile.js";
import { tempDirs } from "../harness/temp.js";

const FP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
const work = tempDirs()("slipway-cron-");

const extra = [
  "collector\n", "\n", "collector\ncollector", "\r", " ", "*", "#", "-v", "--", "-e x", "-f /etc/passwd", "^", "$", ".*", "[", "\\", "\\n", "'", '"', "%", "é", "\u00e9", "日本", "😀",
  "darkpool_collector", "/opt/darkpool_collector/run.sh", ">> /var/log/dp.log", "MAILTO", "trailing   ", "caf", "deployer", "root", "a-b", "-r",
];
const VALUES = [...extra, ...hostileStrings(150, 17)];

/** A sample crontab: the lines any edit must keep, and one line holding the match (a latin-1 line is not UTF-8). */
function sample(match: string): { bytes: Buffer; lines: Buffer[] } {
  const lines = [
    Buffer.from("# m h dom mon dow command"),
    Buffer.from("SHELL=/bin/bash"),
    Buffer.from('MAILTO=""'),
    Buffer.from("*/5 * * * * /opt/darkpool_collector/run.sh >> /var/log/dp.log 2>&1"),
    Buffer.from("0 2 * * * /usr/local/bin/backup --all   "),
    Buffer.concat([Buffer.from("@reboot echo 'caf"), Buffer.from([0xe9]), Buffer.from("'")]),
    Buffer.from(""),
    Buffer.from(`*/10 * * * * /opt/app/bin/job --tag=<${match}>`),
    Buffer.from("0 3 * * 0 printf 'a\\tb\\n' | \\tee -a /tmp/x"),
    Buffer.from(""),
  ];
  return { bytes: Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])), lines };
}

function envText(cron: Record<string, string>): string {
  return stringify({ hosts: { d1: { address: "10.0.0.1", "host-key": FP } }, services: { app: { kind: "systemd", hosts: ["d1"], "deploy-to": "/srv/app", exec: "app", "replaces-cron": cron } } });
}
function validated(cron: Record<string, string>): { cron?: { user: string; match: string }; problems: string[] } {
  try {
    return { cron: (parseEnvironment(envText(cron), "env.yml").services.app as Extract<Service, { kind: "systemd" }>)["replaces-cron"], problems: [] };
  } catch (e) {
    if (e instanceof ConfigError) return { problems: e.problems.map(formatProblem) };
    throw e;
  }
}

/** `crontab` for the scripts: -u USER -l prints $CRONTAB_FILE, -u USER - replaces it; the user is recorded. */
const bin = path.join(work, "bin");
mkdirSync(bin);
writeFileSync(
  path.join(bin, "crontab"),
  `#!/bin/sh
[ "$1" = -u ] && [ $# = 3 ] || { echo "crontab stand-in: unexpected arguments: $*" >&2; exit 2; }
printf '%s' "$2" > "$CRONTAB_FILE.user"
case "$3" in
  -l) if [ -f "$CRONTAB_FILE" ]; then cat -- "$CRONTAB_FILE"; else echo "no crontab for $2" >&2; exit 1; fi ;;
  -) : > "$CRONTAB_FILE.written"; cat > "$CRONTAB_FILE.new" && mv -- "$CRONTAB_FILE.new" "$CRONTAB_FILE" ;;
  *) echo "crontab stand-in: unexpected arguments: $*" >&2; exit 2 ;;
esac
`,
);
chmodSync(path.join(bin, "crontab"), 0o755);

interface Run { crontab: Buffer; written: boolean; reported: Buffer[]; kept: Buffer[]; user: string; rc: number; stderr: string }
/** Run each rendered script on its own crontab file, all in one bash process (each in a subshell, as a host runs it). */
function runAll(jobs: { dir: string; crontab: Buffer | undefined; user: string; match: string }[]): Run[] {
  const parts = jobs.map((j) => {
    mkdirSync(j.dir, { recursive: true });
    if (j.crontab) writeFileSync(path.join(j.dir, "crontab"), j.crontab);
    return `( set -euo pipefail
export CRONTAB_FILE=${quote(path.join(j.dir, "crontab"))}
slipway_cron_removed=()
${removeCronScript({ user: j.user, match: j.match, sudo: false }).text}
if [ \${#slipway_cron_removed[@]} -gt 0 ]; then echo "kept $(printf '%s\\0' "\${slipway_cron_removed[@]}" | base64 -w0)"; fi
) > ${quote(path.join(j.dir, "out"))} 2> ${quote(path.join(j.dir, "err"))}; echo $? > ${quote(path.join(j.dir, "rc"))}`;
  });
  const script = path.join(work, `run-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(script, `${parts.join("\n")}\n`);
  const r = spawnSync("bash", [script], { env: { PATH: `${bin}:/usr/bin:/bin`, LANG: "C.UTF-8" }, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return jobs.map((j) => {
    const out = readFileSync(path.join(j.dir, "out"), "utf8").split("\n");
    const b64 = (prefix: string) => out.filter((l) => l.startsWith(prefix)).map((l) => Buffer.from(l.slice(prefix.length), "base64"));
    const file = path.join(j.dir, "crontab");
    return {
      crontab: existsSync(file) ? readFileSync(file) : Buffer.alloc(0),
      written: existsSync(`${file}.written`),
      reported: b64("slipway:cron-removed "),
      kept: b64("kept ").flatMap((b) => splitNul(b)),
      user: existsSync(`${file}.user`) ? readFileSync(`${file}.user`, "utf8") : "",
      rc: Number(readFileSync(path.join(j.dir, "rc"), "utf8")),
      stderr: readFileSync(path.join(j.dir, "err"), "utf8"),
    };
  });
}

/** The NUL-terminated strings of a buffer. */
function splitNul(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, end = b.indexOf(0); end >= 0; at = end + 1, end = b.indexOf(0, at)) out.push(b.subarray(at, end));
  return out;
}

interface Case { field: "match" | "user"; value: string }
// users: the fixed values only (the user is one quoted word, which test/unit/shell-values.test.ts checks at length)
const USERS = [...extra, ...hostileStrings(0, 17)];
const cases: Case[] = [...VALUES.map((value) => ({ field: "match" as const, value })), ...USERS.map((value) => ({ field: "user" as const, value }))];

describe("the replaces-cron edit: every value is data (issue #17)", () => {
  it("hostile matches and users: refused at env.yml:line:col, or exactly the lines holding the match removed and reported", { timeout: 60_000 }, () => {
    const accepted: { c: Case; cron: { user: string; match: string }; lines: Buffer[]; bytes: Buffer; dir: string }[] = [];
    const refused: Record<string, number> = {};
    cases.forEach((c, i) => {
      const v = validated(c.field === "match" ? { user: "deployer", match: c.value } : { user: c.value, match: "darkpool_collector" });
      if (!v.cron) {
        expect(v.problems.length).toBeGreaterThan(0);
        for (const p of v.problems) expect(p, `${c.field} ${JSON.stringify(c.value)}`).toMatch(/^env\.yml:[1-9]\d*:[1-9]\d*: services\.app\.replaces-cron\./);
        refused[c.field] = (refused[c.field] ?? 0) + 1;
        return;
      }
      // a user case needs only `crontab -u USER -l` (the same word as in `crontab -u USER -`): a crontab without the match
      const { bytes, lines } = c.field === "match" ? sample(v.cron.match) : { bytes: Buffer.from("0 1 * * * /bin/true\n"), lines: [Buffer.from("0 1 * * * /bin/true")] };
      accepted.push({ c, cron: v.cron, lines, bytes, dir: path.join(work, `c${i}`) });
    });
    const runs = runAll(accepted.map((a) => ({ dir: a.dir, crontab: a.bytes, ...a.cron })));
    let inOneLine = 0;
    accepted.forEach((a, i) => {
      const label = `${a.c.field} ${JSON.stringify(a.c.value)}`;
      const r = runs[i]!;
      expect(r.user, label).toBe(a.cron.user);
      if (a.c.field === "user") {
        expect([r.rc, r.stderr, r.written, r.reported, r.crontab.equals(a.bytes)], label).toEqual([0, "", false, [], true]);
        return;
      }
      expect([r.rc, r.stderr, r.written], label).toEqual([0, "", true]);
      const match = Buffer.from(a.cron.match);
      const holds = (l: Buffer) => l.includes(match);
      const removed = a.lines.filter(holds);
      // the sample's own line always holds it; when it is the only one, it alone goes
      expect(removed.length, label).toBeGreaterThanOrEqual(1);
      if (removed.length === 1) inOneLine++;
      expect(r.crontab.equals(Buffer.concat(a.lines.filter((l) => !holds(l)).flatMap((l) => [l, Buffer.from("\n")]))), `${label}\n${r.crontab.toString("latin1")}`).toBe(true);
      expect(r.reported.map((b) => b.toString("latin1")), label).toEqual(removed.map((b) => b.toString("latin1")));
      expect(r.kept.map((b) => b.toString("latin1")), label).toEqual(removed.map((b) => b.toString("latin1")));
    });
    const acceptedOf = (f: string) => accepted.filter((a) => a.c.field === f).length;
    for (const f of ["match", "user"]) {
      expect(acceptedOf(f), f).toBeGreaterThan(0);
      expect(refused[f] ?? 0, f).toBeGreaterThan(0);
    }
    expect([VALUES.length, USERS.length, cases.length]).toEqual([184, 97, 281]);
    // lower bounds of the counts recorded above (a stricter rule elsewhere in the schema may move a few)
    expect(acceptedOf("match")).toBeGreaterThanOrEqual(160);
    expect(acceptedOf("user")).toBeGreaterThanOrEqual(5);
    expect(inOneLine).toBeGreaterThanOrEqual(130);
  });
});

describe("issue #17 reproducers (crontab)", () => {
  it("a newline in replaces-cron.match cannot empty the crontab", () => {
    // refused by validate at its line, and by the builder whatever reaches it
    for (const match of ["collector\n", "collector\ncollector", "\n", ""])
      expect(validated({ user: "deployer", match }).problems[0], JSON.stringify(match)).toMatch(/^env\.yml:\d+:\d+: services\.app\.replaces-cron\.match: /);
    for (const match of ["collector\n", "\n", ""]) expect(() => removeCronScript({ user: "deployer", match, sudo: false }), JSON.stringify(match)).toThrow(/one non-empty line/);
    // the ordinary match removes its one line and keeps the rest byte for byte
    const { bytes, lines } = sample("collector");
    const [r] = runAll([{ dir: path.join(work, "ordinary"), crontab: bytes, user: "deployer", match: "job --tag=<collector>" }]);
    expect(r!.reported.map(String)).toEqual(["*/10 * * * * /opt/app/bin/job --tag=<collector>"]);
    expect(r!.crontab.equals(Buffer.concat(lines.filter((_, i) => i !== 7).flatMap((l) => [l, Buffer.from("\n")])))).toBe(true);
  });

  it("a line that is not UTF-8 is compared and kept like any other (grep never answers 'binary file matches')", () => {
    const { bytes, lines } = sample("x");
    const [r] = runAll([{ dir: path.join(work, "latin1"), crontab: bytes, user: "deployer", match: "caf" }]);
    expect(r!.reported).toEqual([lines[5]]);
    expect(r!.crontab.equals(Buffer.concat(lines.filter((_, i) => i !== 5).flatMap((l) => [l, Buffer.from("\n")])))).toBe(true);
  });

  it("no crontab, or no line with the match: nothing is written", () => {
    const [none, other] = runAll([
      { dir: path.join(work, "none"), crontab: undefined, user: "deployer", match: "collector" },
      { dir: path.join(work, "other"), crontab: Buffer.from("0 1 * * * /bin/true\n"), user: "deployer", match: "collector" },
    ]);
    expect([none!.rc, none!.reported, none!.written, none!.crontab.length]).toEqual([0, [], false, 0]);
    expect([other!.rc, other!.reported, other!.written, other!.crontab.toString()]).toEqual([0, [], false, "0 1 * * * /bin/true\n"]);
  });
});
