// Environment files pointing slipway at the harness's real sshd and PostgreSQL on 127.0.0.1.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { loadEnvironment, type LoadedEnvironment } from "../../src/config/load.js";
import type { Postgres } from "./postgres.js";
import type { Sshd } from "./sshd.js";

export function loopbackEnvironment(sshd: Sshd, pg: Postgres, extra: Record<string, unknown> = {}): LoadedEnvironment {
  const doc = {
    hosts: {
      loop: { address: "127.0.0.1", port: sshd.port, user: "root", "host-key": sshd.hostKeyFingerprint, "identity-file": sshd.clientKeyPath },
    },
    ...extra,
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-env-"));
  const file = path.join(dir, "loopback.yml");
  writeFileSync(file, stringify(doc));
  return loadEnvironment(file);
}

export const pgOnLoop = (pg: Postgres, dbname: string, migrations?: Record<string, unknown>) => ({
  engine: "postgres",
  on: { host: "loop", port: pg.port },
  name: dbname,
  user: "postgres",
  ...(migrations ? { migrations } : {}),
});
