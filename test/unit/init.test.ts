// slipway init's pure parts: the flags it parses, the environment file of each kind (valid when the
// keys are pinned, refused at the placeholder otherwise) and the caller workflows (actionlint clean).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { lintWorkflowFiles } from "../../scripts/lint-workflows.js";
import { deployWorkflow, environmentFile, initKinds, keyPlaceholder, parseActionsRef, parseHost, planWorkflow, rollbackWorkflow, type HostKeys, type InitOptions } from "../../src/cli/init.js";
import { schemaUrl } from "../../src/config/json-schema.js";
import { ConfigError, parseEnvironment } from "../../src/config/load.js";

const FP = "SHA256:ZvY3hGyYZoC34gPgIVG9ClOQjKm+QyEZW1fRJYEDk3g";
const ref = parseActionsRef("acme/slipway@v1");
const options = (kind: InitOptions["kind"]): InitOptions => ({ kind, env: "staging", hosts: [parseHost("web=deploy@203.0.113.10"), parseHost("db=root@[2001:db8::1]:2222")], service: "api", actionsRef: ref });
const pinned = new Map<string, HostKeys>([["web", { fingerprints: [FP] }], ["db", { fingerprints: [FP, FP.replace("Zv", "Ab")] }]]);

describe("slipway init: flags", () => {
  it("parses NAME=USER@ADDRESS[:PORT], IPv6 in brackets", () => {
    expect(parseHost("web=deploy@203.0.113.10")).toEqual({ name: "web", user: "deploy", address: "203.0.113.10", port: 22 });
    expect(parseHost("nas=admin@nas.lan:2222")).toEqual({ name: "nas", user: "admin", address: "nas.lan", port: 2222 });
    expect(parseHost("v6=deploy@[2001:db8::1]:22")).toEqual({ name: "v6", user: "deploy", address: "2001:db8::1", port: 22 });
  });

  it.each(["web", "web=203.0.113.10", "web=deploy@", "web=deploy@host:0", "web=deploy@host:70000", "we b=deploy@host", "web=de ploy@host", "web=deploy@ho'st"])("refuses %j", (spec) => {
    expect(() => parseHost(spec)).toThrow();
  });

  it("parses --actions-ref OWNER/REPO@REF", () => {
    expect(ref).toEqual({ owner: "acme", repo: "slipway", ref: "v1" });
    expect(() => parseActionsRef("acme/slipway")).toThrow(/OWNER\/REPO@REF/);
  });
});

describe.each(initKinds)("slipway init --kind %s: the environment file", (kind) => {
  it("points at the schema's stable URL and validates when every host key is pinned", () => {
    const text = environmentFile(options(kind), pinned);
    expect(text.split("\n")[0]).toBe(`# yaml-language-server: $schema=${schemaUrl}`);
    const env = parseEnvironment(text, "environments/staging.yml");
    expect(env.services.api?.kind).toBe(kind);
    expect(env.hosts.db).toMatchObject({ address: "2001:db8::1", port: 2222, user: "root", sudo: false, "host-key": [FP, FP.replace("Zv", "Ab")] });
    expect(env.hosts.web).toMatchObject({ port: 22, sudo: true, "host-key": FP });
    expect(env.checks).toHaveLength(1);
  });

  it("is refused at the placeholder when a host did not answer, naming the command that pins it", () => {
    const text = environmentFile(options(kind), new Map([...pinned, ["db", { error: "cannot reach [2001:db8::1]:2222:\nconnect ETIMEDOUT" }]]));
    expect(text).toContain(`host-key: "${keyPlaceholder(options(kind).hosts[1]!)}"`);
    expect(text).toContain("(cannot reach [2001:db8::1]:2222: connect ETIMEDOUT)"); // the error on one comment line
    const line = text.split("\n").findIndex((l) => l.includes("PIN ME")) + 1;
    const e = (() => {
      try {
        parseEnvironment(text, "staging.yml");
      } catch (err) {
        return err as ConfigError;
      }
    })();
    expect(e).toBeInstanceOf(ConfigError);
    expect(e!.problems).toEqual([expect.objectContaining({ line, message: expect.stringMatching(/^hosts\.db\.host-key: the host key is not pinned yet: run `slipway fingerprint 2001:db8::1 --port 2222` where the host answers/) })]);
    expect(text).toContain("slipway fingerprint 2001:db8::1 --port 2222");
  });
});

describe("slipway init: the caller workflows", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-init-wf-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("deploy.yml: one job per environment, staging first, each calling the reusable workflow with secrets: inherit", () => {
    const wf = parse(deployWorkflow(["production", "nas", "staging"], ref));
    expect(Object.keys(wf.jobs)).toEqual(["staging", "nas", "production"]);
    expect(wf.on.push.branches).toEqual(["main"]);
    for (const [name, job] of Object.entries<Record<string, unknown>>(wf.jobs)) {
      expect(job).toMatchObject({ uses: "acme/slipway/.github/workflows/deploy-environment.yml@v1", with: { environment: name }, secrets: "inherit" });
      expect(job.needs).toEqual(name === "staging" ? undefined : "staging");
      expect((job.with as { production?: boolean }).production).toEqual(name === "staging" ? undefined : true);
    }
  });

  it("rollback.yml: workflow_dispatch over the environments, calling the reusable rollback workflow with secrets: inherit", () => {
    const wf = parse(rollbackWorkflow(["production", "staging"], ref));
    expect(wf.on.workflow_dispatch.inputs.environment.options).toEqual(["production", "staging"]);
    expect(Object.keys(wf.jobs)).toEqual(["rollback"]);
    expect(wf.jobs.rollback).toMatchObject({
      uses: "acme/slipway/.github/workflows/rollback.yml@v1",
      permissions: { contents: "read", deployments: "write" },
      with: { environment: "${{ inputs.environment }}", release: "${{ inputs.release }}", "restore-db": "${{ inputs.restore-db }}", production: "${{ inputs.environment == 'production' }}" },
      secrets: "inherit",
    });
  });

  it("plan.yml: on pull requests, calling the reusable plan workflow with pull-requests: write, deployments: read and no secret", () => {
    const wf = parse(planWorkflow(ref));
    expect(wf.on).toEqual({ pull_request: null });
    expect(wf.jobs.plan).toEqual({ uses: "acme/slipway/.github/workflows/plan.yml@v1", permissions: { contents: "read", "pull-requests": "write", deployments: "read" } });
  });

  it("all pass actionlint", async () => {
    const files = [
      [path.join(dir, "deploy.yml"), deployWorkflow(["production", "staging"], ref)],
      [path.join(dir, "deploy-one.yml"), deployWorkflow(["prod"], ref)],
      [path.join(dir, "rollback.yml"), rollbackWorkflow(["production", "staging"], ref)],
      [path.join(dir, "plan.yml"), planWorkflow(ref)],
    ];
    for (const [f, text] of files) writeFileSync(f!, text!);
    expect(await lintWorkflowFiles(files.map(([f]) => f!))).toEqual([]);
  });
});
