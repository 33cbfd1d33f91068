// Writing values into supervisor's conf.d files as supervisord reads them (supervisor 4,
// supervisor/options.py). Python's configparser reads each line first: it strips whitespace around a
// value and ends it at ';' or '#' after whitespace (inline comments: there is no escape, not even in
// quotes). supervisord then replaces `%(here)s` in an included file and expands `%` (`%%` is a literal
// `%`). command= is split by shlex.split (POSIX quoting) when the program starts; environment= by a
// non-POSIX shlex that takes no escapes and strips quote characters from both ends of every value.
// What these rules cannot carry is refused by validation (src/config/schema.ts imports the *Problem
// functions below, so validate reports it at file:line:col) and, as a last line of defence, here.
import { quote } from "./quote.js";

/** Python's str.isspace(): what configparser strips around a value and reads before an inline comment. */
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const COMMENT = new RegExp(`[${PY_SPACE}][;#]`);
const EDGE_SPACE = new RegExp(`^[${PY_SPACE}]|[${PY_SPACE}]$`);

/** Why `v` cannot be (part of) a value of a supervisor INI file, or undefined when it can. */
export function iniProblem(v: string): string | undefined {
  if (/[\n\r\0]/.test(v)) return "a newline, carriage return or NUL would start another line of the supervisor configuration";
  if (COMMENT.test(v)) return "supervisor's config parser reads ';' or '#' after whitespace as the start of a comment, even inside quotes (it has no escape for it)";
  if (v.includes("%(here)s")) return "supervisor replaces %(here)s in an included file before it reads %% as %, so it cannot be written literally";
  return undefined;
}

/** A value written as it is (directory=, user=): configparser also strips whitespace at its ends. */
export const iniTextProblem = (v: string) => iniProblem(v) ?? (EDGE_SPACE.test(v) ? "supervisor's config parser strips whitespace at the start and end of a value" : undefined);

/** The words of a `command:` value: split at whitespace (no shell syntax: quotes, `$`, `;` are data). */
export const commandWords = (v: string) => v.split(/\s+/).filter((w) => w !== "");

export function commandProblem(v: string): string | undefined {
  const words = commandWords(v);
  if (words.length === 0) return "a command needs at least one word";
  for (const w of words) {
    const why = iniProblem(w);
    if (why) return why;
  }
  return undefined;
}

/** An environment= value: quoted with the one quote kind it does not hold; the parser keeps no quote at its ends. */
export const envValueProblem = (v: string) =>
  iniProblem(v) ??
  (v.includes('"') && v.includes("'")
    ? "supervisor's environment= cannot carry both ' and \" in one value (its parser has no escapes)"
    : /^['"]|['"]$/.test(v)
      ? "supervisor's environment= removes quotes at the start and end of a value"
      : undefined);

function carriable(v: string, what: string, problem: (v: string) => string | undefined): string {
  const why = problem(v);
  if (why) throw new Error(`${what}: ${why}`); // never the value: it may be a secret
  return v;
}

/** supervisord expands `%(name)s` in every value it reads: `%%` is a literal `%`. */
const percent = (v: string) => v.replace(/%/g, "%%");

/** A group or program name in a section header and in programs=: the schema's name characters only. */
export function sectionName(n: string, what: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(n)) throw new Error(`${what}: '${n}' is not a supervisor name (letters, digits, '.', '_', '-')`);
  return n;
}

/** directory=, user=: the value as it is, but for `%`. */
export const iniText = (v: string, what: string) => percent(carriable(v, what, iniTextProblem));

/**
 * command=: each word quoted as shlex.split unquotes it (the shell's single quotes, as quote() writes
 * them; a word starting with ';' or '#' is quoted too, so no comment starts after the separating space).
 */
export function commandLine(argv: string[], what: string): string {
  if (argv.length === 0 || !argv[0]) throw new Error(`${what}: a command needs at least one word`);
  for (const w of argv) carriable(w, what, iniProblem);
  return percent(argv.map((w) => quote(w)).join(" "));
}

/** environment=KEY="value",…: each value in the quotes it does not contain (the parser takes no escapes). */
export function environmentLine(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`supervisor environment: '${k}' is not a variable name`);
      carriable(v, `supervisor environment variable ${k}`, envValueProblem);
      return percent(v.includes('"') ? `${k}='${v}'` : `${k}="${v}"`);
    })
    .join(",");
}
