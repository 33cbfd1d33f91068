import { describe, expect, it } from "vitest";
import { driftReport, liveRelease, type DriftTarget } from "../../src/operations/drift.js";
import type { HostStatus } from "../../src/operations/deploy.js";

const SHA = "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d";
const OLD = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c";
const entry = (release: string, sha: string, outcome = "success") => ({ time: "2026-11-23T11:45:01Z", release, sha, outcome, actor: "alice" });
const status = (host: string, current: string | undefined, history: Record<string, unknown>[], lock?: string): HostStatus => ({ host, service: "svc", current, history, lock, damaged: [], ledger: "/srv/svc/_slipway/ledger.jsonl" });
const target = (host: string, st: HostStatus | Error, service = "svc"): DriftTarget => ({ host, service, status: st });

describe("liveRelease", () => {
  it("takes the commit from the ledger's success entry of the live release", () => {
    const st = status("h", "r2-a84d88e", [entry("r1-1f2e3d4", OLD), entry("r2-a84d88e", SHA), entry("r3-0000000", "0000000000", "failed")]);
    expect(liveRelease(st)).toEqual({ release: "r2-a84d88e", sha: SHA, actor: "alice", time: "2026-11-23T11:45:01Z" });
  });
  it("falls back to the short sha in the release id, and is undefined when nothing is live", () => {
    expect(liveRelease(status("h", "20261123T114501123Z-a84d88e", []))).toEqual({ release: "20261123T114501123Z-a84d88e", sha: "a84d88e" });
    expect(liveRelease(status("h", undefined, []))).toBeUndefined();
  });
});

describe("driftReport", () => {
  it("no drift: every host runs the expected commit, recorded in its ledger", () => {
    const r = driftReport("production", [target("collector-1", status("collector-1", "r2", [entry("r2", SHA)]))], SHA.slice(0, 7));
    expect(r.problems).toBe(0);
    expect(r.text).toBe(["drift: environment production, expected commit a84d88e", "  collector-1  svc  live r2  commit a84d88e7554f  by alice at 2026-11-23T11:45:01Z  ok", "drift: none in production (1 service host)"].join("\n"));
  });

  it("a different commit, a host with nothing live and an unreachable host are each a diff", () => {
    const r = driftReport(
      "production",
      [
        target("collector-1", status("collector-1", "r1", [entry("r1", OLD)])),
        target("trader-1", status("trader-1", undefined, []), "ibkr"),
        target("trader-2", new Error("connect ETIMEDOUT 203.0.113.12:22\nmore"), "ibkr"),
      ],
      SHA,
    );
    expect(r.problems).toBe(3);
    expect(r.text).toBe(
      [
        "drift: environment production, expected commit a84d88e7554f",
        "  collector-1  svc  live r1  commit 1f2e3d4c5b6a  by alice at 2026-11-23T11:45:01Z  DRIFT",
        "  trader-1  ibkr    NOTHING LIVE",
        "  trader-2  ibkr    UNREACHABLE",
        "",
        "--- desired",
        "+++ live",
        "@@ collector-1 svc @@",
        "- commit a84d88e7554f",
        "+ commit 1f2e3d4c5b6a (release r1, deployed by alice at 2026-11-23T11:45:01Z)",
        "@@ trader-1 ibkr @@",
        "- commit a84d88e7554f live",
        "+ no live release (<deploy-to>/current is missing)",
        "@@ trader-2 ibkr @@",
        "- a reachable host",
        "+ cannot read its release: connect ETIMEDOUT 203.0.113.12:22",
        "",
        "drift: 3 problems in production",
      ].join("\n"),
    );
  });

  it("without --sha: hosts of a service that disagree, and a live release the ledger does not record as a success", () => {
    const r = driftReport("recio", [
      target("a", status("a", "r2-a84d88e", [entry("r2-a84d88e", SHA)])),
      target("b", status("b", "r1-1f2e3d4", [entry("r1-1f2e3d4", OLD, "failed")], "run 7 (bob)")),
    ]);
    expect(r.problems).toBe(2);
    expect(r.text).toContain("  b  svc  live r1-1f2e3d4  commit 1f2e3d4  DRIFT  (deploy in progress: locked by run 7 (bob))");
    expect(r.text).toContain("@@ b svc @@\n- release r1-1f2e3d4 recorded as a success in the ledger\n+ no success entry in <deploy-to>/_slipway/ledger.jsonl");
    expect(r.text).toContain("@@ svc: hosts disagree @@\n- commit a84d88e7554f on a\n+ commit 1f2e3d4 on b");
  });
});
