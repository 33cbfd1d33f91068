// Reaching a PostgreSQL database wherever it is: psql on the host over SSH, inside a container on
// the host (docker exec, through sudo on a Synology), or from the runner for a managed database
// (directly or through an SSH tunnel via a host). Passwords travel in the environment or on stdin.
import { spawn } from "node:child_process";
import net from "node:net";
import { psqlCommand, withHeredoc, type ClientOptions, type PgLocation } from "../commands/postgres.js";
import { sh, Shell } from "../commands/quote.js";
import type { Environment } from "../config/schema.js";
import type { Secrets } from "../config/secrets.js";
import type { Remote, RunOptions, RunResult } from "../remote/connection.js";
import { runLocal } from "../remote/local.js";
import type { RemotePool } from "../remote/pool.js";

export interface PsqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PgClient {
  /** "postgres crypto_data in container crypto-timescaledb on nas" */
  describe: string;
  location: PgLocation;
  /** the host that runs the clients (undefined: the runner) */
  remote?: Remote;
  /** run psql with `input` on stdin; never throws for SQL errors (see code/stderr) */
  psql(input: string, step: string, opts?: { dbname?: string }): Promise<PsqlResult>;
  /** shell prefix that exports PGPASSWORD/PGAPPNAME etc. for a script on the host */
  envScript(): Shell;
  /** what a client in a container must be given: application name, secret variables by name */
  clientOptions(): ClientOptions;
  /** run a bash script where the clients run (the host, or the runner) */
  runScript(body: Shell, opts: RunOptions): Promise<RunResult>;
  password?: string;
  appName: string;
  close(): Promise<void>;
}

/** Run psql on a host over SSH (in a container when the location says so). */
class RemotePgClient implements PgClient {
  constructor(
    readonly describe: string,
    readonly remote: Remote,
    readonly location: PgLocation,
    readonly appName: string,
    readonly password?: string,
  ) {}

  envScript(): Shell {
    return sh`export PGAPPNAME=${this.appName}${this.password !== undefined ? sh`; export PGPASSWORD=${this.password}` : new Shell("")}`;
  }

  clientOptions(): ClientOptions {
    return { appName: this.appName, passEnv: this.password !== undefined ? ["PGPASSWORD"] : [] };
  }

  runScript(body: Shell, opts: RunOptions): Promise<RunResult> {
    return this.remote.run(sh`${this.envScript()}\n${body}`, opts);
  }

  async psql(input: string, step: string, opts: { dbname?: string } = {}): Promise<PsqlResult> {
    const cmd = psqlCommand(this.location, { ...this.clientOptions(), dbname: opts.dbname });
    const script = sh`${this.envScript()}\n${withHeredoc(cmd, input)}`;
    const r = await this.remote.run(script, { step, check: false, quiet: true });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  async close(): Promise<void> {}
}

/** Run psql on the runner (a managed database), optionally through a tunnel opened via a host. */
class LocalPgClient implements PgClient {
  constructor(
    readonly describe: string,
    readonly location: PgLocation,
    readonly appName: string,
    readonly password: string | undefined,
    private readonly extraEnv: Record<string, string>,
    private readonly tunnel?: net.Server,
  ) {}

  envScript(): Shell {
    return new Shell("");
  }

  clientOptions(): ClientOptions {
    return {};
  }

  runScript(body: Shell, opts: RunOptions): Promise<RunResult> {
    return runLocal(body, { ...opts, env: this.env() });
  }

  /** environment for local PostgreSQL clients: the password never goes into argv */
  env(): NodeJS.ProcessEnv {
    return { ...process.env, PGAPPNAME: this.appName, ...(this.password !== undefined ? { PGPASSWORD: this.password } : {}), ...this.extraEnv };
  }

  psql(input: string, _step: string, opts: { dbname?: string } = {}): Promise<PsqlResult> {
    const words = psqlArgv(this.location, opts.dbname);
    return new Promise((resolve, reject) => {
      const child = spawn(words[0]!, words.slice(1), { env: this.env(), stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", (e) => reject(new Error(`cannot run psql on the runner: ${e.message} (apt-get install postgresql-client)`)));
      child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.tunnel ? this.tunnel.close(() => r()) : r()));
  }
}

export function psqlArgv(loc: PgLocation, dbname = loc.dbname): string[] {
  const bin = loc.binDir ? `${loc.binDir}/psql` : "psql";
  return [bin, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", "-", ...(loc.host ? ["-h", loc.host] : []), ...(loc.port ? ["-p", String(loc.port)] : []), "-U", loc.user, "-d", dbname];
}

/** Who is running: the GitHub run URL and actor, or user@host for the CLI. */
export function runIdentity(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY)
    return `${env.GITHUB_SERVER_URL ?? "https://github.com"}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID} (${env.GITHUB_ACTOR ?? "unknown actor"})`;
  return `${env.USER ?? "user"}@${env.HOSTNAME ?? "localhost"} (slipway cli)`;
}

/** A local TCP port forwarded through `via` to address:port (for a managed database behind a host). */
async function openTunnel(via: Remote, address: string, port: number): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((sock) => {
    via.forward(address, port).then(
      (stream) => {
        sock.pipe(stream).pipe(sock);
        sock.on("error", () => stream.destroy());
        stream.on("error", () => sock.destroy());
      },
      () => sock.destroy(),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  server.unref();
  return { server, port: (server.address() as net.AddressInfo).port };
}

export async function pgClient(envFile: Environment, dbName: string, pool: RemotePool, secrets: Secrets): Promise<PgClient> {
  const db = envFile.databases[dbName];
  if (!db || db.engine !== "postgres") throw new Error(`database ${dbName} is not a postgres database in this environment`);
  const appName = `slipway ${runIdentity()}`.slice(0, 63);
  const password = db["password-secret"] ? secrets.get(db["password-secret"], `database ${dbName}`) : undefined;
  if (db.on) {
    const host = envFile.hosts[db.on.host]!;
    const remote = await pool.get(db.on.host);
    const location: PgLocation = {
      container: db.on.container,
      docker: host.commands?.docker,
      sudo: host.sudo,
      host: db.on.port ? "127.0.0.1" : undefined,
      port: db.on.port,
      user: db.user,
      dbname: db.name,
      binDir: db.version && !db.on.container ? `/usr/lib/postgresql/${db.version}/bin` : undefined,
      tools: { psql: host.commands?.psql, pg_dump: host.commands?.pg_dump, pg_restore: host.commands?.pg_restore },
    };
    const where = db.on.container ? `in container ${db.on.container} on ${db.on.host}` : `on ${db.on.host}`;
    return new RemotePgClient(`postgres ${db.name} ${where}`, remote, location, appName, password);
  }
  // a managed database: URL from a secret (masked with its parts), from the runner or through a host
  const raw = secrets.get(db["url-secret"]!, `database ${dbName}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`secret ${db["url-secret"]} is not a URL like postgres://user:password@host:port/dbname`);
  }
  const urlPassword = url.password ? secrets.derived(decodeURIComponent(url.password)) : password;
  const host = url.hostname;
  const port = Number(url.port || 5432);
  const extra: Record<string, string> = {};
  const sslmode = db.tls ?? url.searchParams.get("sslmode") ?? undefined;
  if (sslmode) extra.PGSSLMODE = sslmode;
  let tunnel: { server: net.Server; port: number } | undefined;
  let location: PgLocation = { host, port, user: decodeURIComponent(url.username) || db.user, dbname: url.pathname.replace(/^\//, "") || db.name };
  if (db.via) {
    tunnel = await openTunnel(await pool.get(db.via), host, port);
    // connect to the tunnel, but verify the certificate against the real host name
    extra.PGHOSTADDR = "127.0.0.1";
    location = { ...location, port: tunnel.port };
  }
  return new LocalPgClient(`postgres ${location.dbname} at ${host}:${port}${db.via ? ` via ${db.via}` : ""}`, location, appName, urlPassword, extra, tunnel?.server);
}
