import { describe, expect, it } from "vitest";
import { insideWindow, requireWindow } from "../../src/config/window.js";
import { policySchema } from "../../src/config/schema.js";

const at = (hhmm: string) => new Date(`2026-11-23T${hhmm}:00Z`);

describe("maintenance window", () => {
  it("is half-open: from its start up to (not including) its end", () => {
    expect(insideWindow("02:00-04:00 UTC", at("01:59"))).toBe(false);
    expect(insideWindow("02:00-04:00 UTC", at("02:00"))).toBe(true);
    expect(insideWindow("02:00-04:00 UTC", at("03:59"))).toBe(true);
    expect(insideWindow("02:00-04:00 UTC", at("04:00"))).toBe(false);
  });
  it("may cross midnight", () => {
    expect(insideWindow("23:30-00:30 UTC", at("23:45"))).toBe(true);
    expect(insideWindow("23:30-00:30 UTC", at("00:10"))).toBe(true);
    expect(insideWindow("23:30-00:30 UTC", at("12:00"))).toBe(false);
  });
  it("refuses outside it, naming the window, the file and the time; no window means always", () => {
    const policy = policySchema.parse({ "maintenance-window": "02:00-04:00 UTC" });
    expect(() => requireWindow(policy, "environments/etf.yml", "deploy etf-api", at("17:31"))).toThrow(
      "refusing to deploy etf-api: it is 17:31 UTC, outside the maintenance window 02:00-04:00 UTC of environments/etf.yml",
    );
    expect(() => requireWindow(policy, "environments/etf.yml", "deploy etf-api", at("02:30"))).not.toThrow();
    expect(() => requireWindow(policySchema.parse({}), "x.yml", "deploy", at("17:31"))).not.toThrow();
  });
});
