// What a deploy says when it cannot start on a host: the host's own words, and the fix when it is a known one.
import { describe, expect, it } from "vitest";
import { cannotPrepare } from "../../src/operations/deploy.js";

describe("a deploy that cannot prepare deploy-to", () => {
  it("says how to fix sudo asking for a password (the sudoers roots), and adds nothing to other failures", () => {
    const sudo = cannotPrepare("web", "/opt/hello", ["sudo: a password is required"]);
    expect(sudo).toBe("[web] cannot prepare /opt/hello: sudo: a password is required\nthe deploy user may not run this through `sudo -n`: the rules in /etc/sudoers.d/slipway-deploy must cover /opt/hello (docs/github-setup.md, \"The deploy user's sudo\": list your deploy-to roots, or deploy under /srv)");
    expect(cannotPrepare("web", "/srv/hello", ["mkdir: cannot create directory '/srv/hello': No space left on device"])).toBe("[web] cannot prepare /srv/hello: mkdir: cannot create directory '/srv/hello': No space left on device");
  });
});
