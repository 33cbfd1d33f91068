// The slipway CLI: the same operations as the actions, from a terminal.
import "../remote/esm-shim.js"; // first: ssh2 needs __dirname while loading
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, formatProblem, loadEnvironment } from "../config/load.js";
import { formatPlan } from "../operations/plan.js";
import { hostFingerprints } from "../remote/fingerprint.js";

const program = new Command("slipway")
  .description("GitOps deploys over SSH: back up, migrate, deploy, verify and roll back from environment files.")
  .showHelpAfterError();

program
  .command("validate")
  .description("check environment files; print every problem as file:line:col")
  .argument("<env...>", "environment names (environments/<name>.yml) or paths")
  .action((envs: string[]) => {
    let failed = 0;
    for (const ref of envs) {
      try {
        const { file, env } = loadEnvironment(ref);
        console.log(`${file}: ok (${Object.keys(env.hosts).length} hosts, ${Object.keys(env.services).length} services, ${Object.keys(env.databases).length} databases, ${env.checks.length} checks)`);
      } catch (e) {
        failed++;
        if (e instanceof ConfigError) {
          for (const p of e.problems) console.error(formatProblem(p));
          console.error(`${e.file}: ${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}`);
        } else console.error(`error: ${(e as Error).message}`);
      }
    }
    if (failed) process.exitCode = 1;
  });

program
  .command("plan")
  .description("show what slipway would do on which host (changes nothing)")
  .argument("<env>", "environment name or path")
  .action((ref: string) => {
    const { name, env } = loadEnvironment(ref);
    console.log(formatPlan(name, env));
  });

program
  .command("fingerprint")
  .description("print every host key of a host as host-key: and known-hosts: lines to pin (checks nothing, runs nothing)")
  .argument("<address>", "host name or IP")
  .option("-p, --port <port>", "ssh port", (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError("a port number");
    return n;
  }, 22)
  .action(async (address: string, opts: { port: number }) => {
    const keys = await hostFingerprints(address, opts.port);
    if (keys.length === 0) throw new Error(`${address}:${opts.port} offered no host key slipway can use`);
    console.log(`# host keys of ${address}:${opts.port} — compare them with \`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub\` on the host before pinning`);
    for (const k of keys) console.log(`${k.type}\n  host-key: "${k.fingerprint}"\n  known-hosts: "${k.knownHosts}"`);
  });

program.parseAsync(process.argv).catch((e: Error) => {
  if (e instanceof ConfigError) for (const p of e.problems) console.error(formatProblem(p));
  else console.error(`error: ${e.message}`);
  process.exitCode = 1;
});
