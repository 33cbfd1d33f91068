// Issue #17, compose part: no value changes the structure of the compose .env file, and the files
// under a staged release that hold secrets are created 0600.
// Every hostile value of a compose service's env: is either refused by validation (env.yml:line:col)
// or written by composeEnvText and read back, byte for byte, by the real consumers:
//  - compose v1's own reader (compose.config.environment.env_vars_from_file: python-dotenv 0.21's
//    dotenv_values with interpolate=True, from Debian's docker-compose 1.29 and python3-dotenv), and
//    `docker-compose config` (v1) on a compose file whose service has `KEY: ${KEY}` for every key;
//  - compose v2 (`config --format json` of the plugin binary the lab NAS runs: composeV2Plugin()).
// Secret values (not in the YAML) take the same path through composeEnvText, which refuses what no
// form carries with an error naming the variable, never the value.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeConfigScript, privateFileScript } from "../../src/commands/compose.js";
import { ConfigError, formatProblem, parseEnvironment } from "../../src/config/load.js";
import { composeV2Plugin } from "../../src/lab/compose-v2.js";
import { composeEnvText } from "../../src/operations/compose.js";
import { hostileStrings } from "../harness/hostile.js";

const FP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
const V1 = "/usr/bin/docker-compose";
const work = mkdtempSync(path.join(tmpdir(), "slipway-cev-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let V2 = "";
beforeAll(async () => {
  V2 = await composeV2Plugin();
}, 300_000);

const extra = [
  "a\nb", "line\r", "\r\n", "ends with \\", "\\", "\\\\", "C:\\data\\", "a\\\\b", "\\'", "x\\'y", "100%", "%n", "a=b", "==", ',"', ',LD_PRELOAD=/tmp/x.so', "-leading", "--",
  "with spaces", " padded ", "\t", "$(touch /tmp/pwned)", "`id`", "${HOME}", "${X:-d}", "${X:b}", "${}", "${", "$HOME", "$home", "$_x", "$1", "$-", "$", "a$", "$$", "\\$HOME",
  "$\u017f", "$\u212a", "'single'", `"double"`, `a "b" 'c'`, "it's", "#comment", "a #b", "a\t#b", "#", "export X=1", "K=v", "\u200f\u202eltr\u202c", "\u2066x\u2069", "é日本😀",
  "\uFEFFbom", "\u2028", "\u0085", "\u00a0nbsp\u00a0", "\x1b[31m", "\x07", "\x1c", "=", "'", '"', "''", '""', "\\n", "\\t", "\\x41", "pa$$word", "p@ss'w\"rd\\", "C:\\Program Files\\", "a# b\\", "a #b\\", "a$b c\\", "日本 語\\", "\u00a0x\\", "x\u3000y\\",
];
// as strings from a YAML file or the process environment can be: well-formed UTF-16 (a lone surrogate cannot be written)
// dense mixes of what is special to either parser, for the choice between the three forms
const specials = fc.sample(fc.array(fc.constantFrom("\\", "'", '"', "$", "{", "}", ":-", "#", " ", "\t", "\n", "\r", "a", "_", "n", "é"), { minLength: 1, maxLength: 8 }).map((a) => a.join("")), { numRuns: 400, seed: 17 });
const VALUES = [...new Set([...extra, ...hostileStrings(400, 17), ...specials].map((v) => Buffer.from(v).toString()))];

/** An environment file with one compose service whose env: holds `env`. */
const envYaml = (env: Record<string, string>) =>
  stringify({ hosts: { d1: { address: "10.0.0.1", "host-key": FP } }, services: { app: { kind: "compose", hosts: ["d1"], "deploy-to": "/srv/app", files: ["docker-compose.yml"], env } } });

/** Validation's problems for `value` in env:, or undefined when it is accepted. */
function refusedBy(value: string): string[] | undefined {
  try {
    parseEnvironment(envYaml({ V: value }), "env.yml");
    return undefined;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.map(formatProblem);
  }
}

const CLEAN_ENV = { PATH: "/usr/bin:/bin", HOME: work }; // none of the keys: the process environment would win over .env
const unescapeDollars = (v: unknown) => (typeof v === "string" ? v.replace(/\$\$/g, "$") : v); // `config` writes `$` as `$$`

/** A project directory: the .env text and a compose file whose service has `KEY: ${KEY}` for every key. */
function project(name: string, envText: string, keys: string[]): string {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, ".env"), envText);
  writeFileSync(path.join(dir, "docker-compose.yml"), JSON.stringify({ services: { s: { image: "busybox", environment: Object.fromEntries(keys.map((k) => [k, `\${${k}}`])) } } }));
  return dir;
}

/** What each consumer reads from the project's .env. */
function readers(dir: string): Record<"v1 env_vars_from_file" | "v1 docker-compose config" | "v2 config", Record<string, unknown>> {
  const run = (cmd: string, args: string[], input?: string) => {
    const r = spawnSync(cmd, args, { cwd: dir, env: CLEAN_ENV, encoding: "utf8", maxBuffer: 1 << 28, input });
    expect(r.status, `${cmd} ${args.join(" ")}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const py = "import json; from compose.config.environment import env_vars_from_file as f; print(json.dumps(f('.env')))";
  const environment = (doc: unknown) => Object.fromEntries(Object.entries((doc as { services: { s: { environment: Record<string, unknown> } } }).services.s.environment).map(([k, v]) => [k, unescapeDollars(v)]));
  return {
    "v1 env_vars_from_file": JSON.parse(run("/usr/bin/python3", ["-c", py])) as Record<string, unknown>,
    // read with PyYAML, which wrote it (it writes U+2028 and U+0085 as YAML 1.1 line breaks)
    "v1 docker-compose config": environment(JSON.parse(run("/usr/bin/python3", ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"], run(V1, ["-p", "cev", "config"])))),
    "v2 config": environment(JSON.parse(run(V2, ["-p", "cev", "config", "--format", "json"]))),
  };
}

describe("compose .env: every value is data (issue #17)", () => {
  it("compose v1 (docker-compose 1.29, python3-dotenv) and v2 are here to read the .env back", () => {
    expect(spawnSync(V1, ["version", "--short"], { encoding: "utf8" }).stdout).toMatch(/^1\./);
    expect(spawnSync("/usr/bin/python3", ["-c", "import dotenv, compose"]).status).toBe(0);
    expect(spawnSync(V2, ["version", "--short"], { encoding: "utf8" }).stdout).toMatch(/^2\./);
  });

  it("hostile values in env: and secrets: refused (env.yml:line:col, or naming the variable only), or read back unchanged by compose v1 and v2", { timeout: 60_000 }, () => {
    const keys = VALUES.map((_, i) => `K${i}`);
    const written: Record<string, string> = {};
    let refusedByValidate = 0;
    let refusedByWriter = 0;
    VALUES.forEach((value, i) => {
      const label = JSON.stringify(value);
      const problems = refusedBy(value);
      if (problems) {
        refusedByValidate++;
        for (const p of problems) expect(p, label).toMatch(/^env\.yml:[1-9]\d*:[1-9]\d*: services\.app\.env\.V: /);
      }
      // the writer, as for a secret: refused with the variable's name, never the value; what validate accepted is never refused
      try {
        composeEnvText({ [keys[i]!]: value });
        written[keys[i]!] = value;
      } catch (e) {
        refusedByWriter++;
        expect(problems, `validate accepted ${label}, the writer refused it`).toBeDefined();
        const message = (e as Error).message;
        expect(message, label).toMatch(new RegExp(`^compose \\.env value ${keys[i]}: `));
        if (value.length >= 4) expect(message.includes(value), `${label} in ${message}`).toBe(false);
      }
    });
    // all carried values in ONE file: a value that swallowed the next line would show as another key's mismatch
    const dir = project("all", composeEnvText(written), Object.keys(written));
    for (const [reader, got] of Object.entries(readers(dir))) {
      // v1's `config` prints through PyYAML, whose own dump and load turn a NEL (U+0085) into a space: a quirk of
      // that printout only (compose v1 interpolates what env_vars_from_file reads, which is compared exactly)
      const printed = (v: string) => reader !== "v1 docker-compose config" || !v.includes("\u0085");
      const wrong = Object.entries(written).filter(([k, v]) => printed(v) && got[k] !== v).map(([k, v]) => `${JSON.stringify(v)} read as ${JSON.stringify(got[k])}`);
      expect(wrong, reader).toEqual([]);
    }
    const carried = Object.values(written);
    // each of the three forms (single quotes, double quotes, unquoted) is used, and so proven, many times
    const forms = composeEnvText(written).split(/\n(?=K\d+=)/).map((l) => l.slice(l.indexOf("=") + 1, l.indexOf("=") + 2)).map((c) => (c === "'" || c === '"' ? c : "none"));
    const used = Object.fromEntries(["'", '"', "none"].map((f) => [f, forms.filter((c) => c === f).length]));
    console.log(`compose .env: ${VALUES.length} values × 3 readers (v1 env_vars_from_file, v1 docker-compose config, v2 config): ${carried.length} written (${used["'"]} in '…', ${used['"']} in "…", ${used.none} unquoted) and read back unchanged by all three; ${refusedByWriter} refused by the writer (secrets), ${refusedByValidate} by validate (env:)`);
    for (const n of Object.values(used)) expect(n).toBeGreaterThan(10);
    // not vacuous: quotes of both kinds, trailing backslashes, $ and newlines (for secrets) are carried; ${…} is not
    expect(carried.length).toBeGreaterThan(300);
    for (const v of ["it's", `a "b" 'c'`, "ends with \\", "C:\\data\\", "\\\\", "$HOME", "$(touch /tmp/pwned)", "pa$$word", "p@ss'w\"rd\\", "a\nb", "line\r", "#comment", " padded ", "\u200f\u202eltr\u202c"]) expect(carried, JSON.stringify(v)).toContain(v);
    // (compose-go reads $ſx and $Kx — Kelvin sign — as variables: Go's case folding; checked by hand)
    for (const v of ["${HOME}", "${X:-d}", "a\\\\b $HOME", "a\\\\b$\u017fx", "a\\\\b$\u212ax"]) expect(refusedBy(v), v).toBeDefined();
  });
});

describe("issue #17 reproducers (compose)", () => {
  it("a value ending in a backslash does not swallow the next variable (compose v1 and v2)", () => {
    const env = { SHARE: "\\\\nas\\backup\\", DB_PASSWORD: "s3cret'pw" };
    const keys = Object.keys(env);
    for (const [reader, got] of Object.entries(readers(project("backslash", composeEnvText(env), keys)))) expect(got, reader).toEqual(env);
    // the writer before: single quotes as they were; v1 lost the password, v2 refused the file
    const before = project("backslash-before", "SHARE='\\\\nas\\backup\\'\nDB_PASSWORD='s3cret'\n", keys);
    const py = spawnSync("/usr/bin/python3", ["-c", "import json; from compose.config.environment import env_vars_from_file as f; print(json.dumps(f('.env')))"], { cwd: before, env: CLEAN_ENV, encoding: "utf8" });
    expect(JSON.parse(py.stdout).DB_PASSWORD).not.toBe("s3cret");
    expect(spawnSync(V2, ["-p", "cev", "config"], { cwd: before, env: CLEAN_ENV, encoding: "utf8" }).status).not.toBe(0);
  });

  it("${VAR} is refused at its line: compose v1 would replace it whatever the quoting", () => {
    expect(refusedBy("x${HOME}y")).toEqual([expect.stringMatching(/^env\.yml:\d+:\d+: services\.app\.env\.V: compose v1 \(python-dotenv\) replaces \$\{…\}/)]);
    expect(() => composeEnvText({ API_TOKEN: "abc${HOME}" })).toThrow(/^compose \.env value API_TOKEN: compose v1/);
  });

  it("compose config holding secrets is written 0600", () => {
    const dir = path.join(work, "modes");
    const bin = path.join(dir, "bin");
    const staged = path.join(dir, "release", "_slipway");
    mkdirSync(bin, { recursive: true });
    mkdirSync(staged, { recursive: true });
    // a fake compose: prints a config with an interpolated secret (or, with FAIL set, fails quoting it)
    writeFileSync(
      path.join(bin, "compose"),
      `#!/bin/bash\nif [ -n "\${FAIL:-}" ]; then echo "invalid DB_PASSWORD=hunter2" >&2; echo "service s: bad" >&2; exit 1; fi\necho "services: {s: {image: busybox, environment: {DB_PASSWORD: hunter2}}}"; echo "a warning" >&2\n`,
      { mode: 0o755 },
    );
    const script = (fail: boolean) => `set -euo pipefail; umask 022; ${fail ? "export FAIL=1; " : ""}
${privateFileScript(`${dir}/release/.env`, composeEnvText({ DB_PASSWORD: "hunter2" }))}
${composeConfigScript(["compose", "-p", "p"], { dir: `${dir}/release`, staged, files: ["docker-compose.yml"] })}
${privateFileScript(`${staged}/inputs.sha256`, "0123abcd\n")}
: > ${staged}/control`;
    const run = (fail: boolean) => spawnSync("bash", ["-c", script(fail)], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: "utf8" });
    const ok = run(false);
    expect(ok.status, ok.stderr).toBe(0);
    expect(Buffer.from(ok.stdout.split("\n")[1]!, "base64").toString()).toContain("hunter2");
    const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);
    for (const f of [`${dir}/release/.env`, `${staged}/compose.config.yml`, `${staged}/compose.config.err`, `${staged}/inputs.sha256`]) expect(mode(f), f).toBe("600");
    expect(mode(`${staged}/control`)).toBe("644"); // the umask is the script's own outside those files
    rmSync(staged, { recursive: true });
    mkdirSync(staged);
    const failed = run(true);
    expect(failed.status).toBe(1);
    expect(mode(`${staged}/compose.config.err`)).toBe("600");
    expect(failed.stderr).toContain("compose rejected docker-compose.yml:\nservice s: bad");
    expect(failed.stderr).not.toContain("hunter2");
  });
});
