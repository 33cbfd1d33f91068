// `slipway fingerprint`: ask a host for each type of host key it has and print them in the forms
// an environment file pins. It never authenticates or runs anything: the handshake is aborted
// as soon as the key is seen.
import { Client } from "ssh2";
import { fingerprint, keyType } from "./hostkey.js";

const keyAlgorithms = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512"] as const;

export interface PresentedKey {
  type: string;
  fingerprint: string;
  knownHosts: string;
}

function presentedKey(address: string, port: number, algorithm: string, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let key: Buffer | undefined;
    const done = () => {
      c.end();
      resolve(key);
    };
    c.on("error", (e: Error & { level?: string }) => {
      // a refused handshake (our verifier said no) or no common algorithm both end here
      if (key || /handshake failed|no matching/i.test(e.message)) done();
      else reject(new Error(`cannot reach ${address}:${port}: ${e.message}`));
    });
    c.on("close", done);
    c.connect({
      host: address,
      port,
      username: "slipway-fingerprint",
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: [algorithm as never] },
      hostVerifier: ((k: Buffer) => {
        key = k;
        return false;
      }) as never,
    });
  });
}

export async function hostFingerprints(address: string, port = 22, timeoutMs = 10_000): Promise<PresentedKey[]> {
  const out: PresentedKey[] = [];
  for (const alg of keyAlgorithms) {
    const key = await presentedKey(address, port, alg, timeoutMs);
    if (!key || out.some((k) => k.fingerprint === fingerprint(key))) continue;
    const target = port === 22 ? address : `[${address}]:${port}`;
    out.push({ type: keyType(key), fingerprint: fingerprint(key), knownHosts: `${target} ${keyType(key)} ${key.toString("base64")}` });
  }
  return out;
}
