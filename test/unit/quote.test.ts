import { describe, expect, it } from "vitest";
import { quote, script, sh, Shell } from "../../src/commands/quote.js";

describe("quote", () => {
  it("leaves plain words readable and single-quotes everything else", () => {
    expect(quote("/opt/app/releases/20251123-abc")).toBe("/opt/app/releases/20251123-abc");
    expect(quote("")).toBe("''");
    expect(quote("a b")).toBe("'a b'");
    expect(quote("it's")).toBe("'it'\\''s'");
    expect(quote("$(reboot)")).toBe("'$(reboot)'");
    expect(quote(42)).toBe("42");
  });
  it("refuses NUL", () => {
    expect(() => quote("x\0y")).toThrow(/NUL byte/);
  });
});

describe("sh template", () => {
  it("quotes every interpolation and keeps literal text", () => {
    const dir = "/srv/my app";
    expect(sh`mkdir -p ${dir} && cd ${dir}`.text).toBe("mkdir -p '/srv/my app' && cd '/srv/my app'");
  });
  it("turns arrays into several words and inserts Shell fragments unquoted", () => {
    const inner = sh`echo ${"a;b"}`;
    expect(sh`${["ls", "-l", "x y"]}; ${inner}`.text).toBe("ls -l 'x y'; echo 'a;b'");
    expect(sh`${new Shell("$HOME")}`.text).toBe("$HOME");
  });
  it("joins fragments into a script", () => {
    expect(script(sh`a`, false, undefined, "b").text).toBe("a\nb");
  });
});

describe("sh template safety", () => {
  it("refuses an invalid escape instead of silently dropping script text", () => {
    expect(() => sh`sed 's/(a)/\1/' ${"x"}`).toThrow(/invalid escape sequence/);
  });
});
