// npm run bench:lab [-- --first-build] [--rounds N]
// Measures the lab against its targets: first build of the base images <= 5 min (with --first-build:
// into an empty temporary cache, downloads included), `up` of 2 droplets + 1 NAS from cache <= 15 s,
// `down` <= 10 s. Leaves no lab running.
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureImage } from "../src/lab/image.js";
import { down, status, up } from "../src/lab/lab.js";

const { values } = parseArgs({ options: { "first-build": { type: "boolean", default: false }, rounds: { type: "string", default: "3" } } });
const rounds = Number(values.rounds);
const rows: [string, number, number][] = [];
const fmt = (s: number) => `${s.toFixed(1)} s`;

if ((await status()).state) await down();
if (values["first-build"]) {
  const tmp = `/var/cache/slipway-lab-bench-${process.pid}`;
  process.env.SLIPWAY_LAB_CACHE = tmp;
  try {
    const t0 = Date.now();
    const img = await ensureImage((m) => console.log(`  ${m.replace(/\n/g, "\n  ")}`));
    rows.push(["first build of the base images (empty cache)", img.builtSeconds || (Date.now() - t0) / 1000, 300]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    delete process.env.SLIPWAY_LAB_CACHE;
  }
}
const built = await ensureImage((m) => console.log(`  ${m}`));
if (built.builtSeconds) rows.push(["first build of the base images (this machine's cache)", built.builtSeconds, 300]);

for (let i = 1; i <= rounds; i++) {
  const s = await up({ droplets: 2, nas: 1 });
  const ready = s.hosts.map((h) => `${h.name} ${s.timings[`ready:${h.name}`]} ms`).join(", ");
  rows.push([`up 2 droplets + 1 NAS from cache, round ${i} (${ready})`, s.timings.upMs! / 1000, 15]);
  rows.push([`down, round ${i}`, (await down()) / 1000, 10]);
}

let failed = 0;
for (const [what, secs, target] of rows) {
  const ok = secs <= target;
  if (!ok) failed++;
  console.log(`${ok ? "PASS" : "FAIL"}  ${fmt(secs).padStart(8)}  (target <= ${target} s)  ${what}`);
}
process.exit(failed ? 1 : 0);
