// deploy-compose on the lab NAS (real dockerd, docker-compose v1 in /usr/local/bin outside the
// ssh PATH, the docker socket reachable only through sudo -n), run as the runner runs it: a stack
// with a database service, migrations, a built image with a healthcheck and a port; unchanged
// redeploy; a changed image; a healthcheck that never passes; a missing image; recreate strategy.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runAction } from "../harness/runner.js";
import { composeV2Plugin } from "../../src/lab/compose-v2.js";
import { sshArgv } from "../../src/lab/ssh.js";
import { host } from "../../src/lab/state.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("nas-1");

let ws: string;
// what compose must pass through untouched: $, a comment sign, backticks, spaces (18 characters)
const SECRET = "s3c $HOME #x;`id`z";
const PORT = 18090;
const DOCKER = "sudo -n /usr/local/bin/docker";
const web = (version: string, o: { health?: string } = {}) => ({
  "web/Dockerfile": `FROM local/debian:bookworm
COPY app.py /app/app.py
WORKDIR /app
HEALTHCHECK --interval=1s --timeout=3s --retries=3 CMD ${o.health ?? "curl -fsS -o /dev/null http://127.0.0.1:8080/"}
CMD ["python3", "-u", "app.py"]
`,
  "web/app.py": `import http.server, os
print("web ${version} starting", flush=True)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"${version} token={len(os.environ.get('TOKEN', ''))}".encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
`,
});
const composeFile = (workerImage = "local/debian:bookworm") => `version: "3.8"
services:
  db:
    image: local/postgres:15
    container_name: stackdb
    init: true
    environment: { PGHOST: /tmp, PGDATABASE: app }
    volumes: ["dbdata:/var/lib/postgresql/15/main"]
  web:
    build: ./web
    init: true
    depends_on: [db]
    environment:
      TOKEN: \${TOKEN}
    ports: ["127.0.0.1:${PORT}:8080"]
  worker:
    image: ${workerImage}
    init: true
    command: ["sleep", "infinity"]
volumes:
  dbdata: {}
`;

function release(name: string, files: Record<string, string>) {
  const dir = path.join(ws, "build", name);
  for (const [f, c] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), c);
  }
  return `build/${name}`;
}

function environment(file: string, stack: Record<string, unknown> = {}, o: { keepCommands?: boolean } = {}) {
  const env = parse(readFileSync(lab().envFile, "utf8"));
  if (!o.keepCommands) delete env.hosts["nas-1"].commands; // find docker and compose by themselves
  env.databases = { stack: { engine: "postgres", on: { host: "nas-1", container: "stackdb" }, name: "app", user: "postgres", migrations: { dir: "migrations" } } };
  env.services = {
    stack: { kind: "compose", hosts: ["nas-1"], "deploy-to": "/srv/stack", files: ["docker-compose.yml"], project: "labstack", "database-service": "db", "secret-env": { TOKEN: "STACK_TOKEN" }, "wait-timeout": "40s", stabilize: "2s", ...stack },
  };
  env.policy = { "keep-releases": 3 };
  writeFileSync(path.join(ws, "environments", file), stringify(env));
}

const deploy = (rel: string, o: { env?: string; sha?: string } = {}) =>
  runAction("deploy-compose", { environment: o.env ?? "lab", hosts: "", "dry-run": "false", service: "", release: rel, sha: o.sha ?? "1111111aaaa", "lock-wait": "0", "backup-id": "", "migration-head": "", migrate: "true" }, { cwd: ws, env: { STACK_TOKEN: SECRET, GITHUB_RUN_ID: "88", GITHUB_REPOSITORY: "acme/nas", GITHUB_ACTOR: "carol" } });
const get = async () => (await on("nas-1", "deploy", `curl -fsS -m 3 http://127.0.0.1:${PORT}/ || echo DOWN`)).stdout;
const ledger = async () => (await on("nas-1", "deploy", "cat /srv/stack/_slipway/ledger.jsonl")).stdout.split("\n").map((l) => JSON.parse(l));
const containerOf = async (svc: string) => (await on("nas-1", "deploy", `${DOCKER} ps -q --no-trunc --filter label=com.docker.compose.project=labstack --filter label=com.docker.compose.service=${svc}`)).stdout;
const wait = () => new Promise((r) => setTimeout(r, 1100));

const cleanup = async () => {
  await on("nas-1", "root", "cd /tmp; PATH=/usr/local/bin:$PATH; ids=$(docker ps -aq --filter label=com.docker.compose.project=labstack); [ -z \"$ids\" ] || docker rm -f $ids >/dev/null; docker images --format '{{.Repository}}:{{.Tag}}' | grep '^slipway/labstack-' | xargs -r docker rmi -f >/dev/null; docker network rm labstack_default >/dev/null 2>&1; docker volume rm labstack_dbdata >/dev/null 2>&1; docker image prune -f >/dev/null; rm -rf /srv/stack; true", { timeoutMs: 120_000 });
};

beforeAll(async () => {
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-lab-compose-"));
  mkdirSync(path.join(ws, "environments"));
  mkdirSync(path.join(ws, "migrations"));
  writeFileSync(path.join(ws, "migrations", "001_items.sql"), "create table items (id serial primary key, name text not null);\ninsert into items (name) values ('first');\n");
  environment("lab.yml");
  await cleanup();
});
afterAll(cleanup);

describe("deploy-compose", () => {
  let v1 = "";
  let v2 = "";
  it("first deploy: database service first and migrated, image built and pinned by id, .env 0600, healthy, ledger", async () => {
    const r = deploy(release("v1", { "docker-compose.yml": composeFile(), ...web("v1") }));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    v1 = r.outputs["release-id"]!;
    expect(await get()).toBe("v1 token=18");
    const digests = JSON.parse(r.outputs.digests!)["nas-1"];
    expect(Object.keys(digests).sort()).toEqual(["db", "web", "worker"]);
    for (const id of Object.values(digests)) expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    // compose found by itself: /usr/local/bin is not on the ssh PATH and the socket needs sudo
    expect(r.stdout).not.toContain("docker is not installed");
    const facts = await on("nas-1", "deploy", `readlink /srv/stack/current; stat -c '%a' /srv/stack/current/.env; cat /srv/stack/current/_slipway/compose.pinned.yml; ${DOCKER} exec stackdb psql -tA -c 'select name from items'`);
    expect(facts.stdout).toContain(`releases/${v1}\n600\n`);
    expect(facts.stdout).toContain(`image: "${digests.web}"`);
    expect(facts.stdout.split("\n").at(-1)).toBe("first");
    // the running containers are the pinned images, and the release tag keeps each one alive
    expect((await on("nas-1", "deploy", `${DOCKER} inspect -f '{{.Image}}' ${await containerOf("web")}`)).stdout).toBe(digests.web);
    expect((await on("nas-1", "deploy", `${DOCKER} image inspect -f '{{.Id}}' slipway/labstack-worker:${v1.toLowerCase()}`)).stdout).toBe(digests.worker);
    expect(r.stdout).toContain("stack was created by this deploy: no backup needed");
    expect(r.stdout.split("\n").filter((l) => !l.startsWith("::add-mask::")).join("\n")).not.toContain(SECRET);
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "success", kind: "compose", release: v1, digests, migrationHead: "001", actor: "carol", compose: "sudo -n /usr/local/bin/docker-compose", composeVersion: "1.29.2" });
    expect(r.summary).toContain("| nas-1 | ✅ deployed |");
    expect(r.summary).toContain(`| web | \`${digests.web}\` |`);
  });

  it("redeploying the same stack is detected as unchanged and touches nothing", async () => {
    const before = await containerOf("web");
    await wait();
    const t = Date.now();
    const r = deploy("build/v1");
    const ms = Date.now() - t;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.changed).toBe("false");
    expect(r.outputs["release-id"]).not.toBe(v1); // requested id; the live one stays
    expect(JSON.parse(r.outputs.hosts!)["nas-1"].release).toBe(v1);
    expect(await containerOf("web")).toBe(before);
    expect((await on("nas-1", "deploy", "readlink /srv/stack/current; ls /srv/stack/releases | wc -l")).stdout).toBe(`releases/${v1}\n1`);
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "unchanged", release: v1 });
    console.log(`unchanged redeploy: ${ms} ms`);
  });

  it("a changed image is rebuilt and rolled out in place; the database container is not recreated", async () => {
    const db = await containerOf("db");
    environment("lab-cmd.yml", {}, { keepCommands: true }); // the host's commands: override
    await wait();
    const r = deploy(release("v2", { "docker-compose.yml": composeFile(), ...web("v2") }), { env: "lab-cmd", sha: "2222222bbbb" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    v2 = r.outputs["release-id"]!;
    expect(await get()).toBe("v2 token=18");
    expect(await containerOf("db")).toBe(db);
    const e = (await ledger()).at(-1);
    expect(e).toMatchObject({ outcome: "success", release: v2, previous: v1 });
    expect(e.digests.web).not.toBe((await ledger()).find((x: { release: string; outcome: string }) => x.release === v1 && x.outcome === "success").digests.web);
    expect((await on("nas-1", "deploy", "ls /srv/stack/releases")).stdout.split("\n")).toEqual([v1, v2]);
  });

  it("a healthcheck that never passes fails the deploy with its logs and health log; the previous release runs again", async () => {
    environment("lab-fast.yml", { "wait-timeout": "12s" });
    await wait();
    const r = deploy(release("v3", { "docker-compose.yml": composeFile(), ...web("v3", { health: "sh -c 'echo db handshake refused; exit 1'" }) }), { env: "lab-fast", sha: "3333333cccc" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("did not come up healthy");
    expect(r.stdout).toContain("web v3 starting"); // docker logs --tail
    expect(r.stdout).toContain("db handshake refused"); // the health log
    expect(r.stdout).toContain(`release ${v2} was restored and is running again`);
    expect(r.summary).toContain("❌ failed, previous restored");
    expect(r.summary).toContain("web v3 starting");
    expect(await get()).toBe("v2 token=18");
    expect((await on("nas-1", "deploy", "readlink /srv/stack/current")).stdout).toBe(`releases/${v2}`);
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "failed", restored: true, previous: v2 });
  }, 120_000);

  it("a missing image fails before anything is switched, naming the service and the image", async () => {
    await wait();
    // a registry on the NAS's loopback that is not there: the pull fails at once, offline
    const r = deploy(release("v4", { "docker-compose.yml": composeFile("127.0.0.1:5999/acme/missing:1.0"), ...web("v4") }), { sha: "4444444dddd" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("image 127.0.0.1:5999/acme/missing:1.0 of service worker is not on the host and pulling it failed");
    expect(r.stdout).toContain(`nothing was switched: release ${v2} is still live`);
    expect(await get()).toBe("v2 token=18");
    expect((await on("nas-1", "deploy", "test -e /srv/stack/_slipway/lock && echo held || echo free")).stdout).toBe("free");
  });

  it("recreate: the old app containers stop before the new ones start (collectors never run twice)", async () => {
    environment("lab-recreate.yml", { strategy: "recreate" });
    const since = (await on("nas-1", "deploy", "date +%s")).stdout;
    await wait();
    const r = deploy(release("v5", { "docker-compose.yml": composeFile(), ...web("v5") }), { env: "lab-recreate", sha: "5555555eeee" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await get()).toBe("v5 token=18");
    const ev = await on("nas-1", "deploy", `${DOCKER} events --since ${since} --until "$(date +%s)" --filter type=container --filter label=com.docker.compose.project=labstack --format '{{.Status}} {{index .Actor.Attributes "com.docker.compose.service"}}'`);
    const events = ev.stdout.split("\n").filter((l) => /^(die|start) (web|worker)$/.test(l));
    // both app services stopped (even the unchanged worker), and every stop came before any start
    expect(events).toContain("die worker");
    expect(events.lastIndexOf("die web")).toBeLessThan(events.indexOf("start web"));
    expect(events.findIndex((e) => e.startsWith("start"))).toBeGreaterThan(events.lastIndexOf("die worker"));
    expect(events).not.toContain("die db");
    // keep 3 releases: v1 is pruned with its image tags, v2 (previous) stays
    const left = await on("nas-1", "deploy", `ls /srv/stack/releases; ${DOCKER} images --format '{{.Repository}}:{{.Tag}}' | grep -c '^slipway/labstack-web:' || true`);
    expect(left.stdout.split("\n")).toContain(v2);
  });

  it("slipway status shows each service's image id", () => {
    const st = spawnSync(process.execPath, [path.join(ROOT, "dist/cli/index.js"), "status", "lab", "-n", "2"], { cwd: ws, encoding: "utf8", timeout: 60_000 });
    expect(st.status, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/nas-1 {2}stack {2}live: \S+-5555555/);
    expect(st.stdout).toMatch(/web=sha256:[0-9a-f]{12}/);
  });

  it("rollback returns the stack to the previous release's files and pinned images", async () => {
    const r = runAction("rollback", { environment: "lab", hosts: "", "dry-run": "false", service: "", to: "", "restore-db": "false", "backup-id": "", "only-if-live": "", auto: "false", reason: "bad collectors", "lock-wait": "", "runner-dir": "backups", verify: "true" }, { cwd: ws, env: { STACK_TOKEN: SECRET, GITHUB_RUN_ID: "89" } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs["release-id"]).toBe(v2);
    expect(await get()).toBe("v2 token=18");
    const pinned = (await ledger()).find((e: { release: string; outcome: string }) => e.release === v2 && e.outcome === "success").digests;
    expect((await on("nas-1", "deploy", `${DOCKER} inspect -f '{{.Image}}' ${await containerOf("web")}`)).stdout).toBe(pinned.web);
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "rollback", release: v2, bad: true, reason: "bad collectors" });
  });
});

describe("deploy-compose with compose v2 (the docker compose plugin, from Debian trixie's docker-compose .deb)", () => {
  const PLUGIN = "/usr/libexec/docker/cli-plugins/docker-compose";
  afterAll(async () => {
    await on("nas-1", "root", `rm -f ${PLUGIN}`);
  });

  it("is found and preferred over v1, builds, pins and brings the stack up (sudo -n docker compose)", async () => {
    const bin = await composeV2Plugin();
    const s = lab();
    const [cmd, ...args] = sshArgv(s, host(s, "nas-1"), "root", `mkdir -p ${path.dirname(PLUGIN)} && cat > ${PLUGIN} && chmod 755 ${PLUGIN} && /usr/local/bin/docker compose version --short`);
    const put = spawnSync(cmd!, args, { input: readFileSync(bin), encoding: "utf8", timeout: 60_000 });
    expect(put.stdout.trim(), put.stderr).toBe("2.26.1-4");
    await wait();
    const r = deploy(release("v6", { "docker-compose.yml": composeFile(), ...web("v6") }), { sha: "6666666ffff" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await get()).toBe("v6 token=18");
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "success", compose: "sudo -n /usr/local/bin/docker compose", composeVersion: "2.26.1-4" });
    // v2 names containers project-service-1; slipway found them by label, not by name
    expect((await on("nas-1", "deploy", `${DOCKER} ps --format '{{.Names}}' --filter label=com.docker.compose.project=labstack | sort`)).stdout).toBe("labstack-web-1\nlabstack-worker-1\nstackdb");
  }, 300_000);
});
