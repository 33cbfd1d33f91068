import { describe, expect, it } from "vitest";
import { Secrets } from "../../src/config/secrets.js";
import { memoryLog } from "../../src/report/log.js";

describe("secrets", () => {
  it("reads by name, masks the value and its derived forms, and redacts logs", () => {
    const masked: string[] = [];
    const secrets = new Secrets({ DB_PASSWORD: "p@ss word/1" });
    secrets.onMask((v) => masked.push(v));
    const pw = secrets.get("DB_PASSWORD", "database crypto");
    const dsn = secrets.derived(`postgres://app:${encodeURIComponent(pw)}@db:5432/app`);
    expect(masked).toEqual(expect.arrayContaining([pw, Buffer.from(pw).toString("base64"), encodeURIComponent(pw), dsn]));
    const log = memoryLog(secrets);
    log.info(`connecting with ${dsn} and ${pw} (${Buffer.from(pw).toString("base64")})`);
    expect(log.lines[0]).toBe("connecting with *** and *** (***)");
  });

  it("masks each line of a multi-line secret such as a private key", () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    const masked: string[] = [];
    const secrets = new Secrets({ KEY: key });
    secrets.onMask((v) => masked.push(v));
    secrets.get("KEY", "ssh");
    expect(masked).toContain("b3BlbnNzaC1rZXktdjEAAAAA");
  });

  it("names the missing secret and how to map it, never a value", () => {
    expect(() => new Secrets({}).get("DEPLOY_SSH_KEY", "ssh to droplet-1")).toThrow(
      "secret DEPLOY_SSH_KEY (needed for ssh to droplet-1) is not set: map it in the workflow step, e.g. env: { DEPLOY_SSH_KEY: ${{ secrets.DEPLOY_SSH_KEY }} }",
    );
  });

  it("reads a secret from SLIPWAY_SECRETS (a workflow's toJSON(secrets)) when the step's env does not name it; the env wins", () => {
    const bundle = JSON.stringify({ DB_PASSWORD: "from-bundle", SSH_KEY: "key-from-bundle", OTHER: "never-read", github_token: "ghs_x" });
    const masked: string[] = [];
    const secrets = new Secrets({ SLIPWAY_SECRETS: bundle, SSH_KEY: "key-from-env" });
    secrets.onMask((v) => masked.push(v));
    expect(secrets.get("DB_PASSWORD", "db")).toBe("from-bundle");
    expect(secrets.get("SSH_KEY", "ssh")).toBe("key-from-env");
    expect(secrets.has("OTHER")).toBe(true);
    // only what was read is registered for masking, not the whole bundle
    expect(masked).toContain("from-bundle");
    expect(masked.some((m) => m.includes("never-read") || m.includes("OTHER"))).toBe(false);
    expect(() => secrets.get("MISSING", "x")).toThrow("secret MISSING (needed for x) is not set");
  });

  it("refuses a SLIPWAY_SECRETS that is not a JSON object, naming the variable and not its value", () => {
    for (const bad of ["not json", "[1,2]", '"s3cr3t"']) {
      const secrets = new Secrets({ SLIPWAY_SECRETS: bad });
      expect(() => secrets.get("X", "x")).toThrow("SLIPWAY_SECRETS is not a JSON object: set it to ${{ toJSON(secrets) }} in the workflow step's env");
      try {
        secrets.get("X", "x");
      } catch (e) {
        expect((e as Error).message).not.toContain("s3cr3t");
      }
    }
  });

  it("registers secrets with a masker added later", () => {
    const secrets = new Secrets({ T: "token-value" });
    secrets.get("T", "x");
    const masked: string[] = [];
    secrets.onMask((v) => masked.push(v));
    expect(masked).toContain("token-value");
  });
});

describe("secrets never reach a summary or an output (issue #17)", () => {
  it("refuses a secret shorter than 8 characters, naming it and never its value", () => {
    for (const short of ["a", "abc", "1234567", "  abc  "]) {
      const secrets = new Secrets({ DB_PASSWORD: short });
      expect(() => secrets.get("DB_PASSWORD", "db")).toThrow(/^secret DB_PASSWORD \(needed for db\) is only \d character\(s\) long: .* use at least 8 characters$/);
    }
    expect(new Secrets({ DB_PASSWORD: "12345678" }).get("DB_PASSWORD", "db")).toBe("12345678");
  });

  it("a summary and an output an action writes are redacted by the same function as its log", async () => {
    const { runWithContext } = await import("../../src/actions/run-action.js");
    const { parseEnvironment } = await import("../../src/config/load.js");
    const env = parseEnvironment("hosts:\n  d1: { address: 10.0.0.1, host-key: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' }\n", "environments/x.yml");
    const secrets = new Secrets({ SLIPWAY_SSH_KEY: "-----BEGIN KEY-----\nAAAAkeylinekeyline\n-----END KEY-----", DB_PASSWORD: "hunter2-hunter2" });
    const written: string[] = [];
    const outputs: [string, string][] = [];
    await runWithContext(
      "verify-health",
      { environment: { name: "x", file: "environments/x.yml", env }, hosts: [], dryRun: false, input: () => "", secrets, log: memoryLog(secrets), out: { set: (k, v) => void outputs.push([k, v]), summary: async (md) => void written.push(md) } },
      async (ctx) => {
        const pw = ctx.secrets.get("DB_PASSWORD", "db");
        await ctx.out.summary(`| db | ${pw} | ${Buffer.from(pw).toString("base64")} |`);
        ctx.out.set("dsn", `postgres://app:${pw}@db/app`);
      },
    );
    expect(written).toEqual(["| db | *** | *** |"]);
    expect(outputs).toEqual([["dsn", "postgres://app:***@db/app"]]);
  });
});
