// Writing values into systemd unit files (systemd.syntax(7), systemd.unit(7) "Specifiers",
// systemd.service(7) "Command lines"). Every value the unit renderer puts into a unit or timer goes
// through one of these writers; what a unit cannot carry at all (a newline, CR, NUL, a trailing
// backslash, surrounding whitespace in free text) is refused by validation (src/config/schema.ts:
// unitText, unitUser, unitDependency, unitPath…) and, as a last line of defence, again here.

/** Why `v` cannot be written as one unit-file value, or undefined when it can. */
export function unitValueProblem(v: string): string | undefined {
  if (/[\n\r]/.test(v)) return "a newline or carriage return would start a new directive in a systemd unit";
  if (v.includes("\0")) return "a NUL cannot be written into a systemd unit";
  if (v.endsWith("\\")) return "a trailing backslash would continue the line into the next directive of a systemd unit";
  return undefined;
}

function carriable(v: string, what: string): string {
  const why = unitValueProblem(v);
  if (why) throw new Error(`${what}: ${why}`);
  return v;
}

/** `%` starts a specifier (%n, %i, %h…) in every setting that expands them: `%%` is a literal `%`. */
const specifiers = (v: string) => v.replace(/%/g, "%%");

/**
 * A free-text or single-word value of a setting that expands specifiers (Description=, User=,
 * Group=, WorkingDirectory=, EnvironmentFile=, OnCalendar=, Unit=…): written as is but for `%`.
 * systemd strips whitespace around a value, so a value with surrounding whitespace is refused.
 */
export function unitText(v: string, what = "value"): string {
  carriable(v, what);
  if (/^[ \t]|[ \t]$/.test(v)) throw new Error(`${what}: systemd strips whitespace at the start and end of a value`);
  return specifiers(v);
}

/** A value in double quotes as systemd unquotes it (EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE): `\\` and `\"` escaped. */
const doubleQuoted = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/** Characters a command-line word may hold without quotes (systemd splits at whitespace and unquotes "…" and '…'). */
const BARE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One word of ExecStart=/ExecReload= (systemd.service(7) "Command lines"): `%` → `%%` (specifiers
 * are expanded on the whole line first), `$` → `$$` (no variable expansion: the word is data), and
 * any word with other characters in double quotes with C-style escapes (`\\`, `\"`), which systemd
 * unquotes (EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE). A quoted ";" is an argument, not a separator.
 */
export function execWord(w: string): string {
  const v = specifiers(w).replace(/\$/g, "$$$$");
  return BARE_WORD.test(w) ? v : doubleQuoted(v);
}

/**
 * A command line from its argv; argv[0] must be an absolute path or a file name systemd searches in
 * its PATH. A word that is exactly `$NAME` or `${NAME}` for a NAME in `variables` stays systemd's
 * variable (ExecReload's documented `$MAINPID`); every other `$` is data.
 */
export function execLine(argv: string[], what = "command", variables: readonly string[] = []): string {
  if (argv.length === 0 || !argv[0]) throw new Error(`${what}: empty command`);
  if (/^[-@:+!]/.test(argv[0])) throw new Error(`${what}: a command cannot start with '${argv[0][0]}' (systemd reads it as a prefix)`);
  if (/["'\\$\x00-\x1f\x7f]/.test(argv[0])) throw new Error(`${what}: systemd refuses quotes, backslashes and control characters in the executable's path and cannot escape '$' there`);
  for (const w of argv) if (w.includes("\0")) throw new Error(`${what}: a NUL cannot be written into a systemd unit`);
  for (const w of argv) if (/[\n\r]/.test(w)) throw new Error(`${what}: ${unitValueProblem(w)}`);
  const variable = (w: string) => variables.some((n) => w === `$${n}` || w === `\${${n}}`);
  return argv.map((w, i) => (i > 0 && variable(w) ? w : execWord(w))).join(" ");
}

/** The words of an `exec:`-style value: split at spaces and tabs (the only separators; no shell syntax). */
export const commandWords = (v: string) => v.split(/[ \t]+/).filter((w) => w !== "");

/** Environment="KEY=value" (systemd.exec(7)): quoted, C-style escapes, `%` → `%%`; `$` is never expanded there. */
export function environmentAssignment(key: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`Environment=: '${key}' is not a variable name`);
  carriable(value, `Environment ${key}`);
  return doubleQuoted(specifiers(`${key}=${value}`));
}

/**
 * A list of unit names (After=, Wants=, Requires=): one word per name. Names are validated as unit
 * names (no whitespace, quotes, `%` or leading `-`), so joining with a space is exact.
 */
export function unitList(names: string[], what = "unit list"): string {
  for (const n of names) {
    if (!UNIT_NAME.test(n)) throw new Error(`${what}: '${n}' is not a unit name`);
  }
  return names.join(" ");
}

/**
 * A list of paths (ReadWritePaths=, ReadOnlyPaths=…): split by systemd into words (quotes removed,
 * a backslash escapes the next character), then specifier-expanded. A path with whitespace, quotes
 * or backslashes is written in double quotes with `\\` and `\"`.
 */
export function pathList(paths: string[], what = "path list"): string {
  return paths
    .map((p) => {
      carriable(p, what);
      if (!p.startsWith("/")) throw new Error(`${what}: '${p}' is not an absolute path`);
      const v = specifiers(p);
      return /^[^\s"'\\]+$/.test(p) ? v : doubleQuoted(v);
    })
    .join(" ");
}

/** The unit types systemd knows, as name suffixes. */
export const UNIT_TYPES = ["service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer", "slice", "scope"] as const;
/** A unit name as systemd accepts it (unit_name_is_valid): its characters, a type suffix, at most 255 bytes; never a leading `-` (an option to systemctl). */
export const UNIT_NAME = new RegExp(`^(?=.{1,255}$)[A-Za-z0-9:_.@\\\\][A-Za-z0-9:_.@\\\\-]*\\.(${UNIT_TYPES.join("|")})$`);

/** A value of a setting that expands no specifiers (MemoryMax=, CPUQuota=…): written as is, after checking it against the pattern validation used. */
export function unitLiteral(v: string | number, pattern: RegExp, what = "value"): string {
  const s = String(v);
  if (!pattern.test(s)) throw new Error(`${what}: '${s}' does not match ${pattern}`);
  return s;
}
