// The cached base images (droplet rootfs, NAS layer, image.tar for the NAS's dockerd). Built once per
// cache key: a hash of the recipe inputs (package lists, provisioning scripts, mirror), so a changed
// recipe builds a new image; the two newest builds are kept for other clones/branches on the machine.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cacheDir, SH_DIR } from "./paths.js";
import { pidAlive, run, sleep } from "./run.js";

export const RECIPE_FILES = ["base-packages.txt", "nas-packages.txt", "provision-base.sh", "provision-nas.sh", "build-image.sh"];

export interface Image {
  key: string;
  dir: string;
  rootfs: string;
  nasLayer: string;
  imageTar: string;
}

/** The Debian mirror the machine is configured with (deb822 sources first, then sources.list). */
export function debianMirror(): string {
  const deb822 = "/etc/apt/sources.list.d/debian.sources";
  if (existsSync(deb822)) {
    const m = /^URIs:\s*(\S+)/m.exec(readFileSync(deb822, "utf8"));
    if (m?.[1]) return m[1];
  }
  const list = "/etc/apt/sources.list";
  if (existsSync(list)) {
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(readFileSync(list, "utf8"));
    if (m?.[1]) return m[1];
  }
  throw new Error("no Debian mirror configured (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)");
}

export function cacheKey(mirror = debianMirror()): string {
  const h = createHash("sha256");
  for (const f of RECIPE_FILES) h.update(`${f}\0`).update(readFileSync(path.join(SH_DIR, f))).update("\0");
  h.update(`mirror\0${mirror}`);
  return h.digest("hex").slice(0, 16);
}

export function imageFor(key: string): Image {
  const dir = path.join(cacheDir(), "images", key);
  return { key, dir, rootfs: path.join(dir, "rootfs"), nasLayer: path.join(dir, "nas"), imageTar: path.join(dir, "image.tar") };
}

export const imageReady = (img: Image) => existsSync(path.join(img.dir, "ready"));

/** Returns the cached image, building it first if needed (seconds = build time, 0 when cached). */
export async function ensureImage(log: (s: string) => void = () => {}): Promise<Image & { builtSeconds: number }> {
  const mirror = debianMirror();
  const img = imageFor(cacheKey(mirror));
  if (imageReady(img)) return { ...img, builtSeconds: 0 };
  const unlock = await lock(path.join(cacheDir(), "build.lock"));
  try {
    if (imageReady(img)) return { ...img, builtSeconds: 0 };
    const t0 = Date.now();
    const tmp = `${img.dir}.tmp`;
    await removeTree(tmp);
    log(`building lab images ${img.key} from ${mirror} (once per recipe change, a few minutes)`);
    const r = await run(path.join(SH_DIR, "build-image.sh"), [tmp, mirror, path.join(cacheDir(), "debs")], { timeoutMs: 900_000, allowFail: true });
    log(r.stdout.trim());
    if (r.code !== 0) throw new Error(`image build failed:\n${r.stderr}`);
    writeFileSync(path.join(tmp, "ready"), new Date().toISOString() + "\n");
    renameSync(tmp, img.dir);
    await pruneImages(img.key);
    return { ...img, builtSeconds: (Date.now() - t0) / 1000 };
  } finally {
    unlock();
  }
}

async function removeTree(dir: string) {
  if (existsSync(dir)) await run("rm", ["-rf", "--one-file-system", dir]);
}

async function pruneImages(keep: string) {
  const root = path.join(cacheDir(), "images");
  const others = readdirSync(root)
    .filter((k) => k !== keep && existsSync(path.join(root, k, "ready")))
    .sort((a, b) => statSync(path.join(root, b)).mtimeMs - statSync(path.join(root, a)).mtimeMs);
  for (const k of others.slice(1)) await removeTree(path.join(root, k));
}

/** A directory lock holding the owner's pid; a lock whose owner died is taken over. */
async function lock(dir: string): Promise<() => void> {
  mkdirSync(path.dirname(dir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(path.join(dir, "pid"), String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch {
      let pid = 0;
      try {
        pid = Number(readFileSync(path.join(dir, "pid"), "utf8"));
      } catch {
        // being created or released right now
      }
      if (pid && !pidAlive(pid)) rmSync(dir, { recursive: true, force: true });
      await sleep(500);
    }
  }
}
