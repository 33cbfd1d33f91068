// Seed 000's "managed" PostgreSQL (DigitalOcean's, in production) on a lab host: a second cluster
// on a non-default port, TLS only (a self-signed certificate made on the host), password auth for
// its admin role (CREATEDB, like DigitalOcean's doadmin), reachable from the other lab hosts. Used by the darkpool-collector scenario
// and `npm run demo`; dropped by managedPostgresDown (and with the host when the lab goes down).
import { rootOn } from "./ssh.js";
import { host, type LabState } from "./state.js";

export interface ManagedPostgres {
  host: string;
  address: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** postgres://user:password@address:port/database?sslmode=require (a secret: never print it) */
  url: string;
}

const CLUSTER = "managed";

export async function managedPostgresUp(lab: LabState, hostName: string, o: { port?: number; database?: string; user?: string; password: string }): Promise<ManagedPostgres> {
  const port = o.port ?? 25060;
  const database = o.database ?? "defaultdb";
  const user = o.user ?? "doadmin";
  if (!/^[A-Za-z0-9]+$/.test(o.password)) throw new Error("the lab's managed database password must be alphanumeric");
  const dir = `/etc/postgresql/15/${CLUSTER}`;
  await rootOn(
    lab,
    hostName,
    `set -e
pg_dropcluster --stop 15 ${CLUSTER} 2>/dev/null || true
pg_createcluster --locale C.UTF-8 -p ${port} 15 ${CLUSTER} >/dev/null
openssl req -new -x509 -days 30 -nodes -subj /CN=managed-db -keyout ${dir}/server.key -out ${dir}/server.crt 2>/dev/null
chown postgres:postgres ${dir}/server.key ${dir}/server.crt && chmod 600 ${dir}/server.key
cat >> ${dir}/postgresql.conf <<'X'
listen_addresses = '*'
ssl = on
ssl_cert_file = '${dir}/server.crt'
ssl_key_file = '${dir}/server.key'
password_encryption = scram-sha-256
X
cat > ${dir}/pg_hba.conf <<'X'
local   all all                peer
hostssl all all 0.0.0.0/0      scram-sha-256
hostnossl all all 0.0.0.0/0    reject
X
pg_ctlcluster 15 ${CLUSTER} start`,
  );
  // the password travels on stdin, not in argv
  await rootOn(lab, hostName, `runuser -u postgres -- psql -X -q -p ${port} -v ON_ERROR_STOP=1 -f -`, `CREATE ROLE ${user} LOGIN CREATEDB PASSWORD '${o.password}';\nCREATE DATABASE ${database} OWNER ${user};\n`);
  const address = host(lab, hostName).address;
  return { host: hostName, address, port, database, user, password: o.password, url: `postgres://${user}:${o.password}@${address}:${port}/${database}?sslmode=require` };
}

export async function managedPostgresDown(lab: LabState, hostName: string): Promise<void> {
  await rootOn(lab, hostName, `pg_dropcluster --stop 15 ${CLUSTER} 2>/dev/null || true`);
}

/** SQL as the cluster's superuser on its host (for assertions). */
export function managedPsql(lab: LabState, db: ManagedPostgres, sql: string): Promise<string> {
  return rootOn(lab, db.host, `runuser -u postgres -- psql -X -At -p ${db.port} -d ${db.database} -v ON_ERROR_STOP=1 -f -`, sql);
}
