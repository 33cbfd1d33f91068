// Boots the lab once per `vitest run --project lab` (2 droplets + 1 NAS), or reuses one that is
// already up (lab.json, processes alive, ssh answering); tears it down at the end only if it booted
// it, and not when SLIPWAY_LAB_KEEP=1 (.ci/run keeps it for the demo that follows the tests).
import { down, status, up } from "../../src/lab/lab.js";

export default async function setup(): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) throw new Error("the lab tests need root (systemd-nspawn, mounts, network namespaces)");
  const st = await status();
  if (st.up && st.state && st.state.hosts.filter((h) => h.kind === "droplet").length >= 2 && st.state.hosts.some((h) => h.kind === "nas")) {
    console.log(`lab: reusing the running lab (${st.state.hosts.map((h) => h.name).join(", ")})`);
    return async () => {};
  }
  const s = await up({ droplets: 2, nas: 1, log: (m) => console.log(`lab: ${m}`) });
  console.log(`lab: up in ${s.timings.upMs} ms`);
  return async () => {
    if (process.env.SLIPWAY_LAB_KEEP === "1") return void console.log("lab: kept up (SLIPWAY_LAB_KEEP=1): npm run lab -- down removes it");
    const ms = await down();
    console.log(`lab: down in ${ms} ms`);
  };
}
