// Host key pinning. A host is trusted only if the key it presents matches a pinned SHA256
// fingerprint or a pinned known_hosts line. There is no way to skip this.
import { createHash } from "node:crypto";

export interface HostKeyPins {
  fingerprints: string[]; // "SHA256:<base64 without padding>"
  knownHosts: string[]; // "<host> <type> <base64>"
}

/** OpenSSH-style fingerprint of a raw (wire-format) public key. */
export function fingerprint(key: Buffer): string {
  return "SHA256:" + createHash("sha256").update(key).digest("base64").replace(/=+$/, "");
}

/** Key type from the wire format: uint32 length, then the type name. */
export function keyType(key: Buffer): string {
  if (key.length < 4) return "unknown";
  const len = key.readUInt32BE(0);
  return len > 0 && len < 64 && key.length >= 4 + len ? key.subarray(4, 4 + len).toString("latin1") : "unknown";
}

/** The pinned fingerprints of a host: fingerprints as given plus those of the known_hosts keys. */
export function pinnedFingerprints(pins: HostKeyPins): string[] {
  const fromLines = pins.knownHosts.map((line) => {
    const b64 = line.trim().split(/\s+/)[2] ?? "";
    return fingerprint(Buffer.from(b64, "base64"));
  });
  return [...pins.fingerprints.map((f) => f.replace(/=+$/, "")), ...fromLines];
}

export function matchesPin(key: Buffer, pins: HostKeyPins): boolean {
  return pinnedFingerprints(pins).includes(fingerprint(key));
}

export class HostKeyError extends Error {
  constructor(
    readonly host: string,
    readonly presented: string,
    message: string,
  ) {
    super(message);
    this.name = "HostKeyError";
  }
}

/** The refusal message: says what was presented and exactly how to pin it. */
export function hostKeyRefusal(host: string, address: string, port: number, key: Buffer, pins: HostKeyPins): HostKeyError {
  const fp = fingerprint(key);
  const type = keyType(key);
  const pinned = pinnedFingerprints(pins);
  const target = port === 22 ? address : `[${address}]:${port}`;
  const how =
    `If you trust this key (check it on the host with \`ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-/, "").replace(/-.*/, "")}_key.pub\`), pin it in the environment file:\n` +
    `  hosts:\n    ${host}:\n      host-key: "${fp}"\n` +
    `or as a known_hosts line:\n      known-hosts: "${target} ${type} ${key.toString("base64")}"`;
  const message =
    pinned.length === 0
      ? `host ${host} (${address}:${port}) has no pinned host key; it presented ${type} ${fp}. Refusing to connect.\n${how}`
      : `HOST KEY MISMATCH for ${host} (${address}:${port}): it presented ${type} ${fp}, but the pinned key is ${pinned.join(" or ")}. ` +
        `Refusing to connect: the host was rebuilt, or someone is intercepting the connection.\n${how}`;
  return new HostKeyError(host, fp, message);
}
