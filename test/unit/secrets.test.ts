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

  it("registers secrets with a masker added later", () => {
    const secrets = new Secrets({ T: "token-value" });
    secrets.get("T", "x");
    const masked: string[] = [];
    secrets.onMask((v) => masked.push(v));
    expect(masked).toContain("token-value");
  });
});
