// docker compose v2 for the lab, from Debian itself: bookworm only packages compose v1, so the v2
// plugin comes from trixie's docker-compose .deb (a static Go binary), fetched from the machine's
// Debian mirror once, checked against the digest pinned here, and cached with the lab images.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { debianMirror } from "./image.js";
import { cacheDir } from "./paths.js";
import { run } from "./run.js";

export const COMPOSE_V2_DEB = {
  file: "pool/main/d/docker-compose/docker-compose_2.26.1-4_amd64.deb",
  sha256: "47681197cb2b1ab88206b42a1a92fc75f50d9530a6322d03494a473eed0408ea",
  plugin: "usr/libexec/docker/cli-plugins/docker-compose",
};

/** Path (on the machine) of the verified compose v2 plugin binary. */
export async function composeV2Plugin(): Promise<string> {
  const dir = path.join(cacheDir(), "compose-v2");
  const bin = path.join(dir, "root", COMPOSE_V2_DEB.plugin);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const deb = path.join(dir, path.basename(COMPOSE_V2_DEB.file));
  if (!existsSync(deb)) {
    const url = `${debianMirror().replace(/\/+$/, "")}/${COMPOSE_V2_DEB.file}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
    if (!res.ok) throw new Error(`cannot download ${url}: HTTP ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    const got = createHash("sha256").update(body).digest("hex");
    if (got !== COMPOSE_V2_DEB.sha256) throw new Error(`${url} has sha256 ${got}, expected ${COMPOSE_V2_DEB.sha256}: refusing it`);
    writeFileSync(deb, body);
  } else if (createHash("sha256").update(readFileSync(deb)).digest("hex") !== COMPOSE_V2_DEB.sha256) {
    throw new Error(`${deb} does not match its pinned sha256: delete it and retry`);
  }
  await run("dpkg-deb", ["-x", deb, path.join(dir, "root")]);
  return bin;
}
