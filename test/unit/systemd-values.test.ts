// Issue #17, systemd part: no value of an environment file changes the structure of a rendered unit
// or timer. Every hostile value fed into a field that reaches a unit is either refused by validation
// (with env.yml:line:col) or rendered and then read back by systemd itself:
//  - `systemd --test --system` (PID 1's own loader, run as nobody in test mode: it boots nothing)
//    loads the rendered files and dumps every setting as it parsed them: Description, After/Wants/
//    Requires, User/Group, WorkingDirectory, EnvironmentFile, ReadWritePaths, the argv of ExecStart
//    and ExecReload, Environment=, OnCalendar. The value systemd read must equal the input (for
//    command lines: after systemd's own exec-time `$$` → `$`; for OnCalendar: what
//    `systemd-analyze calendar` normalizes the input to).
//  - `systemd-analyze verify` on every rendered file: no message but the known harmless notices.
//  - the rendered file's lines are only COUNTED here: the sequence of sections and keys must be the
//    one an ordinary value renders (no directive added, removed or swallowed by a continuation).
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { releasePaths } from "../../src/commands/release.js";
import { renderTimer, renderUnit, timerName, unitName } from "../../src/commands/systemd.js";
import { environmentAssignment, execLine, pathList } from "../../src/commands/systemd-unit.js";
import { ConfigError, formatProblem, parseEnvironment } from "../../src/config/load.js";
import type { Service } from "../../src/config/schema.js";
import { hostileStrings } from "../harness/hostile.js";

type SystemdService = Extract<Service, { kind: "systemd" }>;
const SYSTEMD = "/usr/lib/systemd/systemd";
const FP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
const work = mkdtempSync(path.join(tmpdir(), "slipway-sdv-"));
chmodSync(work, 0o755);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const extra = [
  "x\n[Service]\nExecStartPre=+/bin/touch /tmp/pwned\n[Unit]", "line\r", "ends with \\", "\\", "100%", "%n", "/srv/app%n", "%%", "$HOME", "${X}", "$$",
  `"double"`, "'single'", `a "b" 'c'`, ";", "a ; b", "-leading", "--", "with spaces", " padded ", "\t", "\u200f\u202eltr\u202c", "\u2066x\u2069", "é日本😀",
  "a\\x2db.target", "getty@tty1.service", "Mon..Fri *-*-* 09:00 Europe/Berlin", "*:0/5", "/srv/a b", "trader",
  "#comment", ";comment", "[Unit]", "a=b", "x\\y", "\\n", "\\x41", "\x1b[31m", "\x07",
];
const VALUES = [...extra, ...hostileStrings(60, 17)];

/** An environment file with one systemd service; `patch` sets the field under test. */
function envText(patch: (s: Record<string, unknown>) => void, deployTo: string): string {
  const svc: Record<string, unknown> = {
    kind: "systemd", hosts: ["d1"], "deploy-to": deployTo, description: "App", after: ["network-online.target"], wants: ["network-online.target"],
    requires: ["basic.target"], user: "app", group: "app", exec: "app --flag", "exec-reload": "/bin/kill -HUP", hardening: "strict", "read-write-paths": ["/var/lib/app"],
    env: { A: "1" }, timer: { "on-calendar": "*:0/5" },
  };
  patch(svc);
  return stringify({ hosts: { d1: { address: "10.0.0.1", "host-key": FP } }, services: { app: svc } });
}

/** Each field that reaches a unit, how a value is put in, and what systemd must read back. */
interface Case { field: string; value: string; patch: (s: Record<string, unknown>) => void; expect: (d: Dump, svc: SystemdService) => void }
const base = path.join(work, "deploy");
const cases: Case[] = [];
for (const value of VALUES) {
  const one = (field: string, patch: Case["patch"], expectFn: Case["expect"]) => cases.push({ field, value, patch, expect: expectFn });
  one("description", (s) => (s.description = value), (d) => { expect(d.unit.get("Description")).toEqual([value]); expect(d.timer.get("Description")).toEqual([`${value} (timer)`]); });
  for (const k of ["after", "wants", "requires"] as const) {
    const key = { after: "After", wants: "Wants", requires: "Requires" }[k];
    one(k, (s) => (s[k] = [value]), (d) => expect(d.unit.get(key)).toContain(`${value} (origin-file)`));
  }
  one("user", (s) => (s.user = value), (d) => expect(d.unit.get("User")).toEqual([value]));
  one("group", (s) => (s.group = value), (d) => expect(d.unit.get("Group")).toEqual([value]));
  one("exec (argument)", (s) => (s.exec = `app ${value}`), (d, svc) => expect(d.unit.get("ExecStart")).toEqual([[`${releasePaths(svc["deploy-to"], "r").current}/app`, ...words(value)]]));
  one("exec (command)", (s) => (s.exec = value), (d, svc) => {
    const [cmd, ...args] = words(value);
    expect(d.unit.get("ExecStart")).toEqual([[cmd!.startsWith("/") ? cmd : `${releasePaths(svc["deploy-to"], "r").current}/${cmd}`, ...args]]);
  });
  one("exec-reload", (s) => (s["exec-reload"] = `/bin/kill -HUP ${value}`), (d) => expect(d.unit.get("ExecReload")).toEqual([["/bin/kill", "-HUP", ...words(value)]]));
  one("deploy-to", (s) => (s["deploy-to"] = `${base}/${value}`), (d, svc) => {
    const p = releasePaths(svc["deploy-to"], "r");
    expect(d.unit.get("WorkingDirectory")).toEqual([p.current]);
    expect(d.unit.get("EnvironmentFile")).toEqual([`${p.current}/_slipway/env`]);
    expect(d.unit.get("ReadWritePaths")).toEqual([`${p.shared} /var/lib/app`]);
  });
  one("read-write-paths", (s) => (s["read-write-paths"] = [`/var/lib/${value}`]), (d, svc) => expect(d.unit.get("ReadWritePaths")).toEqual([`${releasePaths(svc["deploy-to"], "r").shared} /var/lib/${value}`]));
  one("timer.on-calendar", (s) => (s.timer = { "on-calendar": value }), (d) => expect(d.timer.get("OnCalendar")).toEqual([normalizedCalendar(value)]));
  one("unit-name", (s) => (s["unit-name"] = value), () => undefined);
}
const words = (v: string) => v.split(/[ \t]+/).filter((w) => w !== "");

function normalizedCalendar(v: string): string | undefined {
  const r = spawnSync("systemd-analyze", ["calendar", "--", v], { encoding: "utf8" });
  return /Normalized form: (.*)/.exec(r.stdout)?.[1];
}

/** What systemd parsed, per setting: plain values, or argv for command lines. */
interface Dump { unit: Map<string, unknown[]>; timer: Map<string, unknown[]> }

/** Undo the quoting of systemd's own dump of a command line (shell_maybe_quote + C escapes). */
function dumpArgv(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  const esc: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };
  while (i < line.length) {
    if (line[i] === " ") { i++; continue; }
    let w = "";
    if (line[i] === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\") {
          const c = line[i + 1]!;
          if (c in esc) { w += esc[c]; i += 2; }
          else if (c === "x") { w += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16)); i += 4; }
          else if (/[0-7]/.test(c)) { w += String.fromCharCode(parseInt(line.slice(i + 1, i + 4), 8)); i += 4; }
          else { w += c; i += 2; }
        } else w += line[i++];
      }
      i++;
    } else while (i < line.length && line[i] !== " ") w += line[i++];
    out.push(w);
  }
  // the dump shows argv before exec-time expansion; with every `$` doubled that expansion is exactly `$$` → `$`
  return out.map((w) => Buffer.from(w, "latin1").toString("utf8").replace(/\$\$/g, "$"));
}

function parseDump(text: string): Map<string, Map<string, unknown[]>> {
  const units = new Map<string, Map<string, unknown[]>>();
  let cur: Map<string, unknown[]> | undefined;
  let exec: string | undefined;
  const add = (k: string, v: unknown) => cur!.set(k, [...(cur!.get(k) ?? []), v]);
  for (const line of text.split("\n")) {
    const u = /^\t-> Unit (.+):$/.exec(line);
    if (u) { cur = new Map(); units.set(u[1]!, cur); exec = undefined; continue; }
    if (!cur) continue;
    const e = /^\t\t-> (Exec\w+):$/.exec(line);
    if (e) { exec = e[1]; continue; }
    const c = /^\t\t\tCommand Line: (.*)$/.exec(line);
    if (c && exec) { add(exec, dumpArgv(c[1]!)); continue; }
    const kv = /^\t\t([A-Za-z ]+): (.*)$/.exec(line);
    if (kv) { exec = undefined; add(kv[1]!, kv[2]!); }
  }
  return units;
}

/** Load unit files with systemd's own loader (test mode, unprivileged) and return its dump per unit. */
function systemdLoad(dir: string, names: string[]): Map<string, Map<string, unknown[]>> {
  writeFileSync(path.join(dir, "sdv-all.target"), `[Unit]\nWants=${names.join(" ")}\n`);
  spawnSync("chmod", ["-R", "a+rX", dir]);
  const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
  const r = spawnSync(asNobody[0] ?? SYSTEMD, [...asNobody.slice(1), ...(asNobody.length ? [SYSTEMD] : []), "--test", "--system", "--unit=sdv-all.target", "--no-pager"], {
    env: { PATH: process.env.PATH, HOME: "/", SYSTEMD_LOG_TARGET: "console", SYSTEMD_UNIT_PATH: `${dir}:` },
    maxBuffer: 1 << 30,
    encoding: "latin1", // byte for byte; dumpArgv and the comparisons below decode UTF-8
  });
  expect(r.status, r.stderr).toBe(0);
  const dump = parseDump(r.stdout);
  for (const [, m] of dump) for (const [k, vs] of m) m.set(k, vs.map((v) => (typeof v === "string" ? Buffer.from(v, "latin1").toString("utf8") : v)));
  return dump;
}

/** `systemd-analyze verify` of the files: messages per file name (the notices that a name is unusual are harmless). */
function verify(dir: string, files: string[]): Map<string, string[]> {
  const r = spawnSync("systemd-analyze", ["verify", "--man=no", "--generators=no", ...files.map((f) => path.join(dir, f))], { encoding: "utf8", maxBuffer: 1 << 28 });
  const out = new Map<string, string[]>();
  for (const line of `${r.stdout}\n${r.stderr}`.split("\n")) {
    if (!line.trim() || /Accepting user\/group name|Special user nobody configured/.test(line)) continue;
    const f = files.find((n) => line.startsWith(`${path.join(dir, n)}:`) || line.startsWith(`${n}:`) || line.startsWith(`Unit ${n} `)) ?? "?";
    out.set(f, [...(out.get(f) ?? []), line]);
  }
  return out;
}

/** The sections and keys of a unit, in order: what must not change whatever the values. */
const shape = (text: string) => text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => (l.startsWith("[") ? l : l.slice(0, l.indexOf("="))));

const HAS_SYSTEMD = existsSync(SYSTEMD) && spawnSync("systemd-analyze", ["--version"]).status === 0;

describe("systemd units: every value is data (issue #17)", () => {
  it("systemd is here to read the rendered units back (/usr/lib/systemd/systemd and systemd-analyze)", () => expect(HAS_SYSTEMD).toBe(true));

  it("hostile values in every field that reaches a unit or timer: refused at env.yml:line:col, or read back by systemd unchanged", { timeout: 60_000 }, () => {
    const ordinary = parseEnvironment(envText(() => undefined, `${base}/ok`), "env.yml").services.app as SystemdService;
    const unitShape = shape(renderUnit("app", ordinary, releasePaths(ordinary["deploy-to"], "r"), true));
    const timerShape = shape(renderTimer("app", ordinary)!);
    const dir = path.join(work, "units");
    mkdirSync(dir, { recursive: true });
    const accepted: { c: Case; svc: SystemdService; unit: string; timer: string; missing?: string }[] = [];
    const refused: Record<string, number> = {};
    cases.forEach((c, i) => {
      let svc: SystemdService;
      try {
        svc = parseEnvironment(envText(c.patch, `${base}/ok`), "env.yml").services.app as SystemdService;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        for (const p of e.problems) expect(formatProblem(p), `${c.field} ${JSON.stringify(c.value)}`).toMatch(/^env\.yml:[1-9]\d*:[1-9]\d*: services\.app\./);
        refused[c.field] = (refused[c.field] ?? 0) + 1;
        return;
      }
      const named = c.field === "unit-name" ? svc : ({ ...svc, "unit-name": `sdv-${i}.service` } as SystemdService);
      const unit = unitName("app", named);
      const unitText = renderUnit("app", named, releasePaths(named["deploy-to"], "r"), true);
      const timerText = renderTimer("app", named)!;
      expect(shape(unitText), `${c.field} ${JSON.stringify(c.value)}\n${unitText}`).toEqual(unitShape);
      expect(shape(timerText), `${c.field} ${JSON.stringify(c.value)}\n${timerText}`).toEqual(timerShape);
      writeFileSync(path.join(dir, unit), unitText);
      writeFileSync(path.join(dir, timerName("app", named)), timerText);
      // verify resolves ExecStart: give it the executable the unit names (inside this test's directory only)
      const cmd = words(named.exec!)[0]!;
      const argv0 = cmd.startsWith("/") ? cmd : `${releasePaths(named["deploy-to"], "r").current}/${cmd}`;
      const exe = path.resolve(argv0);
      const made = exe.startsWith(`${work}/`);
      if (made) { mkdirSync(path.dirname(exe), { recursive: true }); writeFileSync(exe, "#!/bin/sh\n", { mode: 0o755 }); }
      // an absolute command elsewhere does not exist on this machine: verify must say so, naming exactly that path
      accepted.push({ c, svc: named, unit, timer: timerName("app", named), missing: made ? undefined : `${unit}: Command ${argv0} is not executable: No such file or directory` });
    });
    expect(accepted.length).toBeGreaterThan(100);
    const dump = systemdLoad(dir, accepted.flatMap((a) => [a.unit, a.timer]));
    const messages = verify(dir, accepted.flatMap((a) => [a.unit, a.timer]));
    for (const a of accepted) {
      const label = `${a.c.field} ${JSON.stringify(a.c.value)}`;
      const d = { unit: dump.get(a.unit), timer: dump.get(a.timer) };
      expect(d.unit?.get("Unit Load State"), label).toEqual(["loaded"]);
      expect(d.timer?.get("Unit Load State"), label).toEqual(["loaded"]);
      a.c.expect(d as Dump, a.svc);
      // a Requires= on a unit this machine lacks: verify names exactly that unit (the value as systemd read it)
      const missingDep = a.c.field === "requires" ? [`${a.unit}: Failed to create ${a.unit}/start: Unit ${a.c.value} not found.`] : [];
      expect((messages.get(a.unit) ?? []).filter((m) => !missingDep.includes(m)), label).toEqual(a.missing ? [a.missing] : []);
      expect(messages.get(a.timer) ?? [], label).toEqual([]);
    }
    expect(messages.get("?") ?? []).toEqual([]);
    const count = (f: string) => `${f}: ${accepted.filter((a) => a.c.field === f).length} accepted, ${refused[f] ?? 0} refused`;
    console.log(`${cases.length} cases; ${[...new Set(cases.map((c) => c.field))].map(count).join("; ")}`);
    // every field both refuses some values and carries others (the property is not vacuous)
    for (const f of ["description", "user", "exec (argument)", "exec-reload", "deploy-to", "read-write-paths"]) {
      expect(accepted.filter((a) => a.c.field === f).length, f).toBeGreaterThan(10);
      expect(refused[f] ?? 0, f).toBeGreaterThan(0);
    }
  });

  it("Environment= assignments, command lines and path lists are read back by systemd as written", () => {
    const dir = path.join(work, "writers");
    mkdirSync(dir, { recursive: true });
    const values = VALUES.filter((v) => !/[\n\r\0]/.test(v) && !v.endsWith("\\")).slice(0, 80);
    const names = values.map((_, i) => `sdw-${i}.service`);
    values.forEach((v, i) =>
      writeFileSync(path.join(dir, names[i]!), `[Service]\nExecStart=${execLine(["/bin/echo", v, `${v}x`])}\nEnvironment=${environmentAssignment("V", v)}\nReadWritePaths=${pathList([`/a/${v}`, "/b"])}\n`),
    );
    const dump = systemdLoad(dir, names);
    values.forEach((v, i) => {
      const d = dump.get(names[i]!)!;
      expect(d.get("ExecStart"), JSON.stringify(v)).toEqual([["/bin/echo", v, `${v}x`]]);
      expect(d.get("Environment"), JSON.stringify(v)).toEqual([`V=${v}`]);
      // systemd normalizes paths (validation refuses what is not normalized: '//', '/./', '/../')
      if (!`/a/${v}`.split("/").slice(1).some((c) => c === "" || c === "." || c === "..")) expect(d.get("ReadWritePaths"), JSON.stringify(v)).toEqual([`/a/${v} /b`]);
    });
  });
});

describe("issue #17 reproducers (systemd)", () => {
  const problems = (patch: Case["patch"]) => {
    try {
      parseEnvironment(envText(patch, "/srv/app"), "env.yml");
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.map(formatProblem);
      throw e;
    }
    return [];
  };
  const render = (patch: Case["patch"], deployTo = "/srv/app") => {
    const s = parseEnvironment(envText(patch, deployTo), "env.yml").services.app as SystemdService;
    return renderUnit("app", s, releasePaths(s["deploy-to"], "r"), false);
  };

  it("a newline in description cannot add ExecStartPre=+/bin/touch (refused at its line)", () => {
    const got = problems((s) => (s.description = "x\n[Service]\nExecStartPre=+/bin/touch /tmp/pwned\n[Unit]"));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^env\.yml:\d+:\d+: services\.app\.description: a newline or carriage return would start a new directive/);
    expect(() => renderUnit("app", { ...(parseEnvironment(envText(() => undefined, "/srv/app"), "env.yml").services.app as SystemdService), description: "x\nExecStartPre=+/bin/touch /tmp/pwned" }, releasePaths("/srv/app", "r"), false)).toThrow(/newline/);
  });

  it("a trailing backslash cannot swallow MemoryMax= (refused in every free-text field)", () => {
    for (const patch of [(s: Record<string, unknown>) => (s.description = "app \\"), (s: Record<string, unknown>) => (s.user = "app\\"), (s: Record<string, unknown>) => (s["exec-reload"] = "/bin/kill \\")])
      expect(problems(patch)[0]).toMatch(/^env\.yml:\d+:\d+: services\.app\.[a-z-]+: a trailing backslash would continue the line/);
  });

  it("%n does not expand: /srv/app%n stays /srv/app%n in WorkingDirectory=, ExecStart= and the description", () => {
    const unit = render((s) => {
      s.description = "100% %n";
      s.exec = "app %n";
    }, "/srv/app%n");
    expect(unit).toContain("Description=100%% %%n\n");
    expect(unit).toContain("WorkingDirectory=/srv/app%%n/current\n");
    expect(unit).toContain("ExecStart=/srv/app%%n/current/app %%n\n");
    expect(unit).toContain("ReadWritePaths=/srv/app%%n/shared /var/lib/app\n");
  });

  it("$HOME and ${X} in a command are arguments, not variables; quotes and ';' are arguments too", () => {
    expect(render((s) => (s.exec = `app $HOME \${X} "q" ; a'b`))).toContain(`ExecStart=/srv/app/current/app "$$HOME" "$\${X}" "\\"q\\"" ";" "a'b"\n`);
  });

  it("unit names cannot start with '-': unit-name, After=/Wants=/Requires= and the units checks watch", () => {
    expect(problems((s) => (s["unit-name"] = "-x.service"))[0]).toMatch(/^env\.yml:\d+:\d+: services\.app\.unit-name: /);
    expect(problems((s) => (s.after = ["--help.target"]))[0]).toMatch(/^env\.yml:\d+:\d+: services\.app\.after\.0: a unit name cannot start with '-'/);
    expect(problems((s) => (s.wants = ["a.target b.target"]))[0]).toMatch(/services\.app\.wants\.0: a unit name like/);
    const check = (c: object) => {
      try {
        parseEnvironment(stringify({ hosts: { d1: { address: "10.0.0.1", "host-key": FP } }, checks: [c] }), "env.yml");
        return [];
      } catch (e) {
        return (e as ConfigError).problems.map(formatProblem);
      }
    };
    expect(check({ systemd: "--all", hosts: ["d1"] })[0]).toMatch(/^env\.yml:\d+:\d+: checks\.0\.systemd: a unit name cannot start with '-'/);
    expect(check({ memory: { unit: "-H", max: "1G" }, hosts: ["d1"] })[0]).toMatch(/checks\.0\.memory\.unit: a unit name cannot start with '-'/);
    expect(check({ systemd: "collector", hosts: ["d1"] })).toEqual([]);
  });

  it("ordinary values render exactly as before (escaping is a no-op for them)", () => {
    expect(render(() => undefined)).toContain(
      "After=network-online.target\nWants=network-online.target\nRequires=basic.target\n",
    );
    expect(render(() => undefined)).toContain("User=app\nGroup=app\nWorkingDirectory=/srv/app/current\nExecStart=/srv/app/current/app --flag\nExecReload=/bin/kill -HUP\n");
  });
});

describe("ExecReload's $MAINPID", () => {
  it("a word that is exactly $MAINPID or ${MAINPID} stays systemd's variable; any other $ is data", () => {
    expect(execLine(["/bin/kill", "-HUP", "$MAINPID"], "exec-reload", ["MAINPID"])).toBe("/bin/kill -HUP $MAINPID");
    expect(execLine(["/bin/kill", "-HUP", "${MAINPID}"], "exec-reload", ["MAINPID"])).toBe("/bin/kill -HUP ${MAINPID}");
    expect(execLine(["/bin/kill", "-HUP", "$MAINPID;x"], "exec-reload", ["MAINPID"])).toBe('/bin/kill -HUP "$$MAINPID;x"');
    expect(execLine(["/bin/echo", "$MAINPID"], "exec")).toBe('/bin/echo "$$MAINPID"');
  });
});
