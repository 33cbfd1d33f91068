// Runs before `npm test`: makes sure the real components the tests start are installed
// (Debian packages), that Node 24 is there to run the actions as the runner does, and that
// the bundles under test are built from the current sources.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensureNode24 } from "./node24.mjs";

const root = path.resolve(import.meta.dirname, "..");
const wanted = readFileSync(path.join(root, "scripts/debian-packages.txt"), "utf8")
  .split("\n")
  .map((l) => l.replace(/#.*/, "").trim())
  .filter(Boolean);

function installed(pkg) {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

const missing = wanted.filter((p) => !installed(p));
if (missing.length) {
  const line = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (process.getuid?.() !== 0) {
    console.error(`npm test needs these Debian packages: ${missing.join(", ")}.\nInstall them as root, then run npm test again:\n  sudo sh -c '${line}'`);
    process.exit(1);
  }
  console.error(`installing Debian packages the tests need: ${missing.join(" ")}`);
  // keep package scripts from starting services (a system PostgreSQL, dockerd): the tests start their own
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
}

ensureNode24();

// rebuild the bundles when a source is newer than them, so the end-to-end tests run this code
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .reduce((m, e) => Math.max(m, statSync(path.join(e.parentPath, e.name)).mtimeMs), 0);
const bundle = path.join(root, "dist/cli/index.js");
if (!existsSync(bundle) || newest(path.join(root, "src")) > statSync(bundle).mtimeMs + 1000) {
  console.error("sources changed since the last build: npm run build");
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
}
