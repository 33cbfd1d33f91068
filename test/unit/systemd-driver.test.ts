// What the systemd driver asks the host to wait for after the switch: a service must stay up over
// its stabilisation window; a timer-driven job is not started by a deploy, so nothing is waited for
// beyond the timer becoming active (issue #16: "no idle waits").
import { describe, expect, it } from "vitest";
import { releasePaths } from "../../src/commands/release.js";
import { parseEnvironment } from "../../src/config/load.js";
import { systemdDriver } from "../../src/operations/deploy.js";

const env = parseEnvironment(
  `hosts:
  h: { address: 192.0.2.1, user: deploy, host-key: "SHA256:${"A".repeat(43)}" }
services:
  web: { kind: systemd, hosts: [h], deploy-to: /srv/web, exec: /usr/bin/python3 app.py, stabilize: 3s }
  job: { kind: systemd, hosts: [h], deploy-to: /srv/job, exec: /usr/bin/python3 job.py, timer: { on-calendar: hourly } }
`,
  "test.yml",
);
const driver = (name: "web" | "job") => {
  const s = env.services[name];
  if (s?.kind !== "systemd") throw new Error("not systemd");
  return systemdDriver(name, s, releasePaths(s["deploy-to"], "r1"), true, { hasEnv: false, startTimeoutSec: 60, stabilizeSec: 3 });
};

describe("the systemd driver's wait after the switch", () => {
  it("a service: started, then watched over its whole stabilisation window (activate and restore)", () => {
    expect(driver("web").label).toBe("web.service");
    expect(driver("web").activate().text).toContain("end=$((SECONDS + 3))");
    expect(driver("web").restore("/srv/web/releases/r0/_slipway").text).toContain("end=$((SECONDS + 3))");
  });

  it("a timer: its start checked, no stabilisation window to sit out (the job's next run is the schedule's)", () => {
    expect(driver("job").label).toBe("job.timer");
    expect(driver("job").activate().text).toContain("end=$((SECONDS + 0))");
    expect(driver("job").restore("/srv/job/releases/r0/_slipway").text).toContain("end=$((SECONDS + 0))");
  });
});
