// npm run lab -- up [--droplets N] [--nas M] [--wan-delay MS] | status | down | fault KIND HOST [--undo]
import { parseArgs } from "node:util";
import { FAULT_KINDS, fault, type FaultKind } from "./faults.js";
import { down, status, up } from "./lab.js";
import { readState } from "./state.js";

const usage = `usage: npm run lab -- <command>
  up [--droplets N] [--nas M] [--wan-delay MS]   boot the lab (default 2 droplets, 1 NAS)
  status                                          hosts and whether they answer
  down                                            stop everything, leave nothing behind
  fault <${FAULT_KINDS.join("|")}> <host> [--undo]`;

const log = (s: string) => console.error(`lab: ${s}`);
const int = (v: string | undefined, name: string, dflt: number) => {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new Error(`--${name} wants a whole number, got '${v}'`);
  return Number(v);
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      droplets: { type: "string" },
      nas: { type: "string" },
      "wan-delay": { type: "string" },
      undo: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [cmd, ...rest] = positionals;
  if (values.help || !cmd) {
    console.log(usage);
    return cmd || values.help ? 0 : 2;
  }
  if (process.getuid?.() !== 0) throw new Error("the lab needs root (mounts, network namespaces, systemd-nspawn)");
  switch (cmd) {
    case "up": {
      const wan = values["wan-delay"];
      const s = await up({ droplets: int(values.droplets, "droplets", 2), nas: int(values.nas, "nas", 1), wanDelayMs: wan === undefined ? undefined : int(wan, "wan-delay", 0), log });
      for (const h of s.hosts) console.log(`${h.name.padEnd(12)} ${h.address.padEnd(12)} ${h.hostKeyFingerprint}  ready ${s.timings[`ready:${h.name}`]} ms`);
      if (s.wan) console.log(`WAN: ${s.wan.delayMs} ms each way; run behind it with: ${s.wan.exec.join(" ")} <command>`);
      if (s.timings.imageBuiltSeconds) console.log(`first build of the base images: ${s.timings.imageBuiltSeconds.toFixed(1)} s`);
      console.log(`up: ${(s.timings.upMs! / 1000).toFixed(1)} s; environment: ${s.envFile}; state: ${s.labDir}/lab.json`);
      return 0;
    }
    case "down": {
      const ms = await down(log);
      console.log(`down: ${(ms / 1000).toFixed(1)} s`);
      return 0;
    }
    case "status": {
      const st = await status();
      if (!st.state) {
        console.log("lab is down");
        return 1;
      }
      for (const h of st.hosts) console.log(`${h.name.padEnd(12)} ${h.address.padEnd(12)} ${h.process ? "process up" : "process gone"}  ${h.system}`);
      if (st.state.wan) console.log(`WAN: ${st.state.wan.delayMs} ms each way via ${st.state.wan.exec.join(" ")}`);
      console.log(st.up ? "lab is up" : "lab is NOT healthy");
      return st.up ? 0 : 1;
    }
    case "fault": {
      const [kind, hostName] = rest;
      if (!kind || !hostName || !(FAULT_KINDS as readonly string[]).includes(kind)) throw new Error(usage);
      const state = readState();
      if (!state) throw new Error("the lab is not up");
      const ms = await fault(state, kind as FaultKind, hostName, { undo: values.undo });
      console.log(`fault ${kind}${values.undo ? " undone" : ""} on ${hostName} (${ms} ms)`);
      return 0;
    }
    default:
      throw new Error(`unknown command '${cmd}'\n${usage}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`lab: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
