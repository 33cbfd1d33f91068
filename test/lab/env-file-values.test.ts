// Issue #17, the systemd EnvironmentFile: every value validate accepts for a service's env reaches
// the process byte for byte, as systemd itself reads the file. The consumer is systemd (PID 1 of a
// lab droplet): `systemd-run -p EnvironmentFile=<rendered file> env -0` prints the environment the
// unit's process got. One file holds every accepted value (a value that swallowed or added a line
// would change its neighbours too); a value validate refuses is refused at env.yml:line:col.
// Counts when written: 222 values, 208 read back by systemd unchanged, 14 refused by validate.
import { describe, expect, it } from "vitest";
import { envFileText } from "../../src/commands/release.js";
import { ConfigError, formatProblem, parseEnvironment } from "../../src/config/load.js";
import { hostileStrings } from "../harness/hostile.js";
import { on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-1");

const FP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
const extra = ["", " padded ", "\t", "a\\", "\\", '"', "'", "$HOME", "${HOME}", "$$", "%n", "#x", ";x", "a=b", "x\\ny", "it's \"q\"", "\u202eltr", "é日本😀", "`id`", "$(id)", "\\$HOME", "\\\\"];
// strings that are not valid UTF-16 (lone surrogates) cannot be written to a file as they are
const VALUES = [...extra, ...hostileStrings(200, 29)].filter((v) => Buffer.from(v, "utf8").toString("utf8") === v);

describe("EnvironmentFile values (issue #17): refused at env.yml:line:col, or read by systemd unchanged", () => {
  it("every hostile value", { timeout: 120_000 }, async () => {
    const accepted: string[] = [];
    let refused = 0;
    for (const value of VALUES) {
      const text = `hosts:\n  d1: { address: 10.0.0.1, host-key: "${FP}" }\nservices:\n  app:\n    kind: systemd\n    hosts: [d1]\n    deploy-to: /srv/app\n    exec: /usr/bin/app\n    env:\n      V: ${JSON.stringify(value)}\n`;
      try {
        parseEnvironment(text, "env.yml");
        accepted.push(value);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        for (const p of e.problems) expect(formatProblem(p)).toMatch(/^env\.yml:10:\d+: services\.app\.env\.V: /);
        refused++;
      }
    }
    const vars = Object.fromEntries(accepted.map((v, i) => [`V${i}`, v]));
    const file = `/tmp/slipway-envfile-${process.pid}`;
    const r = await on("droplet-1", "root", `cat > ${file} && systemd-run --quiet --wait --pipe --collect -p EnvironmentFile=${file} /usr/bin/env -0 | base64 -w0; rc=\${PIPESTATUS[0]}; rm -f ${file}; exit $rc`, { input: envFileText(vars) });
    expect(r.code, r.stderr).toBe(0);
    const got = Object.fromEntries(Buffer.from(r.stdout, "base64").toString("utf8").split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    const mismatched = Object.entries(vars).filter(([k, v]) => got[k] !== v).map(([k, v]) => `${k}: wrote ${JSON.stringify(v)}, systemd read ${JSON.stringify(got[k])}`);
    expect(mismatched).toEqual([]);
    // nothing but what was written (and what systemd itself sets) reached the process
    expect(Object.keys(got).filter((k) => /^V\d+$/.test(k)).length).toBe(accepted.length);
    expect(accepted.length).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(10);
  });
});
