// Seed 000's system on the lab, shared by its e2e test and `npm run demo`: the collector's droplet
// (droplet-1) as the cron era left it, the managed PostgreSQL (TLS, port 25060) on droplet-2, and
// the example environment pointed at both.
import { randomBytes } from "node:crypto";
import { managedPostgresDown, managedPostgresUp, managedPsql, type ManagedPostgres } from "../../src/lab/managed-db.js";
import { rootOn } from "../../src/lab/ssh.js";
import type { LabState } from "../../src/lab/state.js";
import { Scenario } from "./scenario.js";

export const COLLECTOR = "droplet-1";
export const DB_HOST = "droplet-2";
export const UNIT = "darkpool-collector.service";
export const DEPLOY_TO = "/srv/darkpool_collector";
export const LOG_DIR = "/var/log/darkpool_collector";
/** the crontab of the cron era: the collector's line, and one that is not ours and must stay */
export const CRON_LINE = "*/5 * * * * cd /opt/darkpool_collector && venv/bin/python -m flow_analysis.scripts.darkpool_collector >> /var/log/darkpool_collector/cron.log 2>&1";
export const OTHER_CRON_LINE = "17 3 * * * find /tmp -name 'flow_*.csv' -mtime +7 -delete";
/** trades the cron-era collector stored before the migration: none may be lost */
export const CRON_ERA_TRADES = 250;

export interface Darkpool {
  scenario: Scenario;
  db: ManagedPostgres;
  sql(q: string): Promise<string>;
  teardown(): Promise<void>;
}

/** The cron era on the lab: user, log dir, crontab, the managed database with its existing trades. */
export async function darkpoolUp(lab: LabState): Promise<Darkpool> {
  await darkpoolCleanup(lab);
  const password = randomBytes(12).toString("hex");
  const db = await managedPostgresUp(lab, DB_HOST, { password });
  await rootOn(
    lab,
    COLLECTOR,
    `set -e
id deployer >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash deployer
install -d -o deployer -g deployer -m 0755 ${LOG_DIR}
crontab -u deployer -`,
    `${CRON_LINE}\n${OTHER_CRON_LINE}\n`,
  );
  const sql = (q: string) => managedPsql(lab, db, q);
  await sql(
    `CREATE TABLE darkpool_trades (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now(), symbol text NOT NULL, price numeric(12, 2) NOT NULL, size integer NOT NULL CHECK (size > 0));
     INSERT INTO darkpool_trades (ts, symbol, price, size) SELECT now() - interval '1 day' + g * interval '1 minute', 'SPY', 450.10, 100 + g FROM generate_series(1, ${CRON_ERA_TRADES}) g;
     ALTER TABLE darkpool_trades OWNER TO ${db.user}; ALTER SEQUENCE darkpool_trades_id_seq OWNER TO ${db.user};`,
  );
  const scenario = new Scenario(
    lab,
    "darkpool-collector",
    "production",
    { "collector-1": COLLECTOR },
    { DARKPOOL_DB_PASSWORD: password, DARKPOOL_DATABASE_URL: db.url },
    (env) => {
      // the lab's managed database stands where DigitalOcean's would
      const svc = env.services["darkpool-collector"];
      svc.env = { ...svc.env, DB_HOST: db.address, DB_PORT: String(db.port) };
    },
  );
  return { scenario, db, sql, teardown: async () => (await scenario.close(), await darkpoolCleanup(lab)) };
}

/** Leave both hosts as they were before the scenario. */
export async function darkpoolCleanup(lab: LabState): Promise<void> {
  await rootOn(
    lab,
    COLLECTOR,
    `systemctl disable --now ${UNIT} 2>/dev/null; rm -f /etc/systemd/system/${UNIT} /etc/logrotate.d/slipway-darkpool-collector; systemctl daemon-reload; systemctl reset-failed ${UNIT} 2>/dev/null
crontab -u deployer -r 2>/dev/null; rm -rf ${DEPLOY_TO} ${LOG_DIR}; id deployer >/dev/null 2>&1 && userdel -r deployer 2>/dev/null; true`,
  );
  await managedPostgresDown(lab, DB_HOST);
}
