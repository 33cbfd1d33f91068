// A compose stack with a healthcheck on the NAS, run the way slipway will: as deploy, through
// `sudo /usr/local/bin/docker-compose`, on the offline base image.
import { afterAll, describe, expect, it } from "vitest";
import { on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("nas-1");

const DIR = "/srv/lab-compose-test";
const COMPOSE = `version: "3.8"
services:
  web:
    image: local/debian:bookworm
    init: true
    command: ["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"]
    working_dir: /www
    volumes: ["./www:/www:ro"]
    ports: ["127.0.0.1:18080:8080"]
    healthcheck:
      test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 3s
      retries: 20
`;
const compose = `cd ${DIR} && sudo -n /usr/local/bin/docker-compose -p labtest`;

describe("compose on the NAS", () => {
  afterAll(async () => {
    await on("nas-1", "deploy", `${compose} down -t 1; sudo -n rm -rf ${DIR}`, { timeoutMs: 60_000 });
  });

  it("brings a service with a healthcheck up to healthy, as deploy via sudo", async () => {
    const setup = await on("nas-1", "deploy", `set -e; sudo -n mkdir -p ${DIR}/www; sudo -n chown -R deploy:deploy ${DIR}; cat > ${DIR}/docker-compose.yml; echo 'hello from the NAS' > ${DIR}/www/index.html`, { input: COMPOSE });
    expect(setup.code, setup.stderr).toBe(0);
    const t0 = Date.now();
    const upR = await on("nas-1", "deploy", `${compose} up -d 2>&1`, { timeoutMs: 120_000 });
    expect(upR.code, upR.stdout).toBe(0);
    // compose v1 has no `up --wait`: poll the container's health
    const health = await on(
      "nas-1",
      "deploy",
      `id=$(${compose} ps -q web); for i in $(seq 150); do s=$(sudo -n /usr/local/bin/docker inspect -f '{{.State.Health.Status}}' "$id"); [ "$s" = healthy ] && break; sleep 0.2; done; echo "$s"; curl -fsS http://127.0.0.1:18080/`,
      { timeoutMs: 60_000 },
    );
    expect(health.stdout).toBe("healthy\nhello from the NAS");
    console.log(`compose up -> healthy in ${Date.now() - t0} ms`);
  });
});
