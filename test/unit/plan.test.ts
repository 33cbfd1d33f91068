import { describe, expect, it } from "vitest";
import { loadEnvironment } from "../../src/config/load.js";
import { buildPlan, formatPlan } from "../../src/operations/plan.js";

describe("plan", () => {
  it("says what happens on which host, like the runbooks", () => {
    const { name, env } = loadEnvironment("test/fixtures/environments/production.yml");
    const plan = buildPlan(env);
    const collector = plan.find((p) => p.host === "collector-1")!;
    expect(collector.login).toBe("deploy@203.0.113.10:22 (sudo)");
    expect(collector.steps).toEqual([
      "back up postgres database darkpool through a tunnel (keep 14, verify: restore)",
      "deploy systemd unit darkpool-collector.service into /opt/darkpool_collector/releases, switch /opt/darkpool_collector/current",
      "remove deployer's crontab entry matching 'darkpool_collector'",
      "install logrotate config for /var/log/darkpool_collector/*.log",
      "run 1 health check",
    ]);
    const text = formatPlan(name, env);
    expect(text).toContain("Plan for environment production:");
    expect(text).toContain("rollout canary");
  });

  it("covers compose stacks with a database in a container behind a jump host", () => {
    const { env } = loadEnvironment("test/fixtures/environments/nas.yml");
    const nas = buildPlan(env).find((p) => p.host === "nas")!;
    expect(nas.login).toBe("admin@192.168.1.50:22 via bastion (sudo)");
    expect(nas.steps[0]).toBe("back up postgres database crypto in container crypto-timescaledb (keep 7, verify: restore)");
    expect(nas.steps).toContain("deploy compose project crypto (docker-compose-lifecycle.yml, recreate) into /volume1/docker/datadownloader/releases, switch /volume1/docker/datadownloader/current");
  });
});
