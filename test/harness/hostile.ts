// Deterministic hostile strings for the quoting property test: shell metacharacters, command
// substitution, quotes, globs, newlines, control characters and unicode, mixed at random.
import fc from "fast-check";

const fragments = [
  "'", '"', "`id`", "$(id)", "${HOME}", "$HOME", "$$", "$?", "$1", "\\", "\\'", "'\\''", "\n", "\r\n", "\t", " ", "  ",
  "*", "?", "[a-z]", "~", "~root", "!", "!!", "#", ";", "&", "&&", "|", "||", ">", "<", ">>", "2>&1", "(", ")", "{", "}",
  "-n", "-e", "--", "%s", "%n", "\x1b[31m", "\x07", "\x7f", "é", "ß", "日本語", "😀", "👩‍👩‍👧", "\u202e", "\u0301", "\uFEFF",
  "rm -rf /", "; reboot", "$(touch /tmp/slipway-pwned)", "`touch /tmp/slipway-pwned`", "EOF", "__slipway_main", "}\n",
];

const noNul = fc.string({ unit: "binary", maxLength: 12 }).map((s) => s.replace(/\0/g, ""));
const hostile = fc.array(fc.oneof(fc.constantFrom(...fragments), noNul, fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 8 }).map((parts) => parts.join(""));

export function hostileStrings(count: number, seed: number): string[] {
  const fixed = ["", ...fragments, fragments.join("")];
  return [...fixed, ...fc.sample(hostile, { numRuns: count - fixed.length, seed })];
}
