// restore-db's default backup (src/operations/rollback.ts backupAsLeftBy): the database as the
// target release left it, not the backup recorded with the target (taken before its own migrations).
import { describe, expect, it } from "vitest";
import { backupAsLeftBy, type LedgerEntry } from "../../src/operations/rollback.js";

const deploy = (release: string, backupId: string, migrationHead?: string): LedgerEntry => ({ outcome: "success", release, backupId, ...(migrationHead ? { migrationHead } : {}) });

describe("backupAsLeftBy", () => {
  it("is the backup taken before the next migration, not the target's own", () => {
    const v1 = deploy("v1", "db-b1", "0002");
    const entries = [v1, deploy("v2", "db-b2", "0003"), deploy("v3", "db-b3", "0003"), { outcome: "rollback", release: "v2", abandoned: "v3", bad: true }];
    expect(backupAsLeftBy(entries, v1)).toBe("db-b2");
  });

  it("the latest one while the target's schema was live: deploys without a migration in between lose nothing", () => {
    const v1 = deploy("v1", "db-b1", "0002");
    const entries = [v1, deploy("v2", "db-b2", "0002"), deploy("v3", "db-b3", "0003"), deploy("v4", "db-b4", "0004")];
    expect(backupAsLeftBy(entries, v1)).toBe("db-b3");
  });

  it("without migrations: the latest backup after the target; nothing after it: none", () => {
    const a = deploy("a", "db-1");
    expect(backupAsLeftBy([a, deploy("b", "db-2"), deploy("c", "db-3")], a)).toBe("db-3");
    expect(backupAsLeftBy([deploy("x", "db-0"), a], a)).toBeUndefined();
  });

  it("counts from the target's latest deploy in the ledger", () => {
    const first = deploy("v1", "db-b1", "0001");
    const again = deploy("v1", "db-b9", "0001");
    const entries = [first, deploy("v2", "db-b2", "0002"), again, deploy("v3", "db-b3", "0002")];
    expect(backupAsLeftBy(entries, again)).toBe("db-b3");
  });
});
