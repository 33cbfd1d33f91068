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
