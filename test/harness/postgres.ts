// A throwaway real PostgreSQL cluster on 127.0.0.1 (random free port, temp dir), after
// lab-recipes/02-postgres.sh: initdb refuses root, so it runs as the postgres user.
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "./sshd.js";

export interface Postgres {
  dir: string;
  port: number;
  bin: string;
  major: number;
  /** environment for psql/pg_dump: PGHOST, PGPORT, PGUSER */
  env: Record<string, string>;
  psql(sql: string, db?: string): string;
  stop(): void;
}

export function postgresBin(): { bin: string; major: number } {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).map(Number).filter((n) => existsSync(path.join(root, String(n), "bin", "initdb"))) : [];
  const major = majors.sort((a, b) => b - a)[0];
  if (major === undefined) throw new Error("no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql-15)");
  return { bin: path.join(root, String(major), "bin"), major };
}

/** tls: a server that only accepts TLS connections over TCP (like a managed database) */
export async function startPostgres(opts: { tls?: boolean } = {}): Promise<Postgres> {
  const { bin, major } = postgresBin();
  const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-pg-"));
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  chownSync(dir, uid, gid);
  const port = await freePort();
  const asPg = (cmd: string, args: string[]) => execFileSync("runuser", ["-u", "postgres", "--", path.join(bin, cmd), ...args], { stdio: "pipe" });
  asPg("initdb", ["-D", `${dir}/data`, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"]);
  let tls = "";
  if (opts.tls) {
    execFileSync("runuser", ["-u", "postgres", "--", "openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=localhost", "-keyout", `${dir}/data/server.key`, "-out", `${dir}/data/server.crt`], { stdio: "pipe" });
    writeFileSync(`${dir}/data/pg_hba.conf`, "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n");
    tls = " -c ssl=on";
  }
  asPg("pg_ctl", [
    "-D", `${dir}/data`, "-l", `${dir}/server.log`, "-w", "-t", "30", "start",
    "-o", `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off${tls}`,
  ]);
  const env = { PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: "postgres" };
  return {
    dir,
    port,
    bin,
    major,
    env,
    psql: (sql, db = "postgres") =>
      execFileSync(path.join(bin, "psql"), ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], { env: { ...process.env, ...env } }).toString().trim(),
    stop() {
      try {
        asPg("pg_ctl", ["-D", `${dir}/data`, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
