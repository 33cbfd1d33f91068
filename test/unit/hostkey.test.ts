import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fingerprint, hostKeyRefusal, keyType, matchesPin } from "../../src/remote/hostkey.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function keypair(type: string) {
  const f = path.join(dir, `${type}-${n++}`);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", f]);
  const [t, b64] = readFileSync(`${f}.pub`, "utf8").split(" ");
  const keygenFp = execFileSync("ssh-keygen", ["-lf", `${f}.pub`]).toString().split(" ")[1];
  return { blob: Buffer.from(b64!, "base64"), type: t!, line: `host.example ${t} ${b64}`, keygenFp: keygenFp! };
}

describe("host keys", () => {
  for (const type of ["ed25519", "ecdsa", "rsa"]) {
    it(`computes the same fingerprint as ssh-keygen -lf for ${type}`, () => {
      const k = keypair(type);
      expect(fingerprint(k.blob)).toBe(k.keygenFp);
      expect(keyType(k.blob)).toBe(k.type);
    });
  }

  it("matches a pinned fingerprint or known_hosts line, nothing else", () => {
    const a = keypair("ed25519");
    const b = keypair("ecdsa");
    expect(matchesPin(a.blob, { fingerprints: [a.keygenFp], knownHosts: [] })).toBe(true);
    expect(matchesPin(a.blob, { fingerprints: [], knownHosts: [a.line] })).toBe(true);
    expect(matchesPin(a.blob, { fingerprints: [b.keygenFp], knownHosts: [b.line] })).toBe(false);
    expect(matchesPin(a.blob, { fingerprints: [], knownHosts: [] })).toBe(false);
  });

  it("a refusal says what was presented and how to pin it", () => {
    const a = keypair("ed25519");
    const err = hostKeyRefusal("web-1", "203.0.113.5", 2222, a.blob, { fingerprints: ["SHA256:" + "A".repeat(43)], knownHosts: [] });
    expect(err.message).toContain(`HOST KEY MISMATCH for web-1 (203.0.113.5:2222): it presented ssh-ed25519 ${a.keygenFp}`);
    expect(err.message).toContain(`host-key: "${a.keygenFp}"`);
    expect(err.message).toContain(`known-hosts: "[203.0.113.5]:2222 ssh-ed25519 ${a.blob.toString("base64")}"`);
  });
});
