// The release as one file on the runner, packed once per deploy and streamed to every host: a tar
// of the directory (sorted, owners normalised: the same tree gives the same bytes and digest) or
// the .tar.gz the workflow built, as it is.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface Artifact {
  path: string;
  size: number;
  sha256: string;
  gzip: boolean;
}

/** Pack `source` into a private temporary directory; `dispose` removes it. */
export async function packRelease(source: string): Promise<Artifact & { dispose(): void }> {
  if (!existsSync(source)) throw new Error(`release ${source} does not exist on the runner (build it earlier in the workflow)`);
  if (!statSync(source).isDirectory()) {
    if (!/\.(tar\.gz|tgz)$/.test(source)) throw new Error(`release ${source} must be a directory or a .tar.gz`);
    return { path: source, ...(await digest(source)), gzip: true, dispose: () => undefined };
  }
  // RUNNER_TEMP: the runner's per-job scratch directory, emptied after the job
  const dir = mkdtempSync(path.join(process.env.RUNNER_TEMP || os.tmpdir(), "slipway-release-"));
  const dispose = () => rmSync(dir, { recursive: true, force: true });
  try {
    const file = path.join(dir, "release.tar");
    await tar(["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", source, "-cf", file, "."]);
    return { path: file, ...(await digest(file)), gzip: false, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

async function digest(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return { size: statSync(file).size, sha256: hash.digest("hex") };
}

function tar(args: string[]): Promise<void> {
  const child = spawn("tar", args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`tar ${args.join(" ")} failed (exit ${code}): ${err.trim()}`))));
  });
}
