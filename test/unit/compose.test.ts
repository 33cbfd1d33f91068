// The compose argv for v1 and v2, the detection marks, the override files, the .env text and the
// reading of `compose config`: the parts of deploy-compose that differ between compose versions.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { composeArgs, composeCommand, imageOverride, releaseImageTag } from "../../src/commands/compose.js";
import { composeEnvText, parseComposeConfig } from "../../src/operations/compose.js";

const marksOf = (m: Record<string, string>) => (name: string) => m[name];

describe("compose command", () => {
  it("v2 plugin: docker compose, with sudo when the socket needs it", () => {
    const c = composeCommand(marksOf({ "docker-bin": "/usr/bin/docker", sudo: "sudo -n", "compose-bin": "/usr/bin/docker", "compose-sub": "compose", "compose-version": "v2.26.1" }));
    expect(c).toEqual({ docker: ["sudo", "-n", "/usr/bin/docker"], compose: ["sudo", "-n", "/usr/bin/docker", "compose"], version: "2.26.1", v2: true });
    expect(composeArgs(c, { project: "crypto", dir: "/srv/s/releases/r1", files: ["docker-compose.yml"], overrides: ["/srv/s/releases/r1/_slipway/compose.pinned.yml"] })).toEqual([
      "sudo", "-n", "/usr/bin/docker", "compose", "-p", "crypto", "--project-directory", "/srv/s/releases/r1",
      "-f", "/srv/s/releases/r1/docker-compose.yml", "-f", "/srv/s/releases/r1/_slipway/compose.pinned.yml",
    ]);
  });

  it("v1 binary in /usr/local/bin (Synology), no sudo", () => {
    const c = composeCommand(marksOf({ "docker-bin": "/usr/local/bin/docker", sudo: "", "compose-bin": "/usr/local/bin/docker-compose", "compose-sub": "", "compose-version": "1.29.2" }));
    expect(c).toEqual({ docker: ["/usr/local/bin/docker"], compose: ["/usr/local/bin/docker-compose"], version: "1.29.2", v2: false });
    expect(composeArgs(c, { project: "p", dir: "/d", files: ["a.yml", "b.yml"] })).toEqual(["/usr/local/bin/docker-compose", "-p", "p", "--project-directory", "/d", "-f", "/d/a.yml", "-f", "/d/b.yml"]);
  });

  it("a standalone docker-compose 2.x binary counts as v2", () => {
    expect(composeCommand(marksOf({ "docker-bin": "/usr/bin/docker", "compose-bin": "/usr/local/bin/docker-compose", "compose-version": "2.20.0" })).v2).toBe(true);
  });

  it("refuses to guess when detection printed nothing", () => {
    expect(() => composeCommand(marksOf({}))).toThrow("could not detect docker compose");
  });
});

describe("compose files slipway writes", () => {
  it("the image override is YAML compose reads back: each service's image", () => {
    const text = imageOverride({ web: "sha256:" + "a".repeat(64), "db-1": "slipway/p-db-1:20261123t1z-abc" });
    expect(parse(text)).toEqual({ version: "3", services: { web: { image: "sha256:" + "a".repeat(64) }, "db-1": { image: "slipway/p-db-1:20261123t1z-abc" } } });
  });

  it("release image tags are valid lower-case references", () => {
    expect(releaseImageTag("Crypto", "btc_Options.0", "20261123T144854610Z-1111111")).toBe("slipway/crypto-btc_options.0:20261123t144854610z-1111111");
  });

  it(".env values: single-quoted, else double-quoted, else bare (the form compose v1 and v2 both read; see compose-env-values.test.ts)", () => {
    expect(composeEnvText({ A: "x y $HOME `id` \\ #c", B: "", C: "it's", D: "a\nb" })).toBe("A='x y $HOME `id` \\ #c'\nB=''\nC='it\\'s'\nD='a\nb'\n");
    expect(composeEnvText({ P: 'a\\\\b "c"\r', Q: "C:\\data\\" })).toBe('P="a\\\\\\\\b \\"c\\"\\r"\nQ=C:\\data\\\n');
    expect(() => composeEnvText({ PASSWORD: "x${HOME}" })).toThrow("compose .env value PASSWORD: compose v1 (python-dotenv) replaces ${…}");
    expect(() => composeEnvText({ K: "$HOME \\" })).toThrow(/^compose \.env value K: compose v1 and v2 read this value differently/);
  });
});

describe("compose config", () => {
  it("reads services, their images and which ones build", () => {
    const cfg = "services:\n  db:\n    image: postgres:15\n  web:\n    build:\n      context: /srv/x/web\n    image: acme/web\n  job:\n    build: {context: .}\nversion: '3.8'\n";
    expect(parseComposeConfig(cfg, "docker-compose.yml")).toEqual({ db: { image: "postgres:15", build: false }, web: { image: "acme/web", build: true }, job: { image: undefined, build: true } });
  });

  it("clear errors: no services, a service without image or build, unreadable output", () => {
    expect(() => parseComposeConfig("version: '3'\n", "a.yml")).toThrow("a.yml defines no services");
    expect(() => parseComposeConfig("services:\n  x: {command: sleep}\n", "a.yml")).toThrow("compose service x in a.yml has neither image: nor build:");
    expect(() => parseComposeConfig("services: [\n", "a.yml")).toThrow("cannot read the output of compose config for a.yml");
  });
});
