// The release as one file on the runner, packed once per deploy and streamed to every host: a tar
// of the directory (sorted, owners normalised: the same tree gives the same bytes and digest) or
// the .tar.gz the workflow built, as it is.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { processExit, REPRODUCIBLE_TAR } from "../remote/child.js";

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
    const tar = spawn("tar", [...REPRODUCIBLE_TAR, "-C", source, "-cf", file, "."], { stdio: ["ignore", "ignore", "pipe"] });
    await processExit(tar, `tar -c ${source}`);
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
