// Writing values into the compose `.env` file, which two different parsers read: compose v1
// (compose/config/environment.py: python-dotenv 0.21's dotenv_values, interpolate=True) and compose
// v2 (compose-go's dotenv). Each value is written in the first form both read back byte for byte
// (test/unit/compose-env-values.test.ts checks it with both, on hostile values); what no form carries
// is refused: by validation for env: (src/config/schema.ts) and by composeEnvText for secrets.
//
// What each parser does (found by reading python-dotenv and feeding both parsers hostile values):
//  - python-dotenv replaces `${NAME}` and `${NAME:-default}` in EVERY value, quoted or not, and has no
//    escape for it; it reads the file in text mode, so a CR becomes a newline.
//  - '…': python-dotenv reads `\\` as one backslash and `\'` as a quote; compose-go reads `\'` as a
//    quote but keeps `\\` as two backslashes; in both a backslash before the closing quote escapes it
//    (python-dotenv's regex then runs on to the next quote of the file: a trailing `\` swallowed the
//    next variable, the database password). Nothing else is special in either, newlines included.
//  - "…": both read `\\`, `\"`, `\n` and `\r`; compose-go expands `$NAME`, `${…}` and `$$` there; a
//    trailing backslash has the same closing-quote problem as in '…'.
//  - unquoted: neither unescapes anything; both cut at whitespace followed by `#` and trim whitespace
//    (each with its own idea of whitespace), read a leading quote as quoting, and compose-go expands `$`.

/** `$` followed by what compose-go reads as a variable or as `$$` (Go's (?i) folds ſ to s and K to k). */
const GO_EXPANDS = /\$[A-Za-z_{$\u017f\u212a]/;
/** python-dotenv's variable (dotenv/variables.py _posix_variable). */
const DOTENV_EXPANDS = /\$\{[^}:]*(?::-[^}]*)?\}/;

const forms: { carries: (v: string) => boolean; write: (v: string) => string }[] = [
  { carries: (v) => !/\\(?:\\|'|$)|\r/.test(v), write: (v) => `'${v.replace(/'/g, "\\'")}'` },
  {
    carries: (v) => !GO_EXPANDS.test(v) && !v.endsWith("\\"),
    write: (v) => `"${v.replace(/[\\"\n\r]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r" })[c]!)}"`,
  },
  // what the quoted forms cannot carry (a trailing backslash, mostly): no control character, no whitespace
  // but inner spaces, no leading quote, no ' #'
  { carries: (v) => /^[^\s\p{Cc}'"](?:[^\s\p{Cc}]| )*(?<! )$/u.test(v) && !v.includes(" #") && !GO_EXPANDS.test(v), write: (v) => v },
];

/** Why `v` cannot be a compose .env value that v1 and v2 both read as `v`, or undefined when it can. */
export function dotenvProblem(v: string): string | undefined {
  if (v.includes("\0")) return "a NUL cannot be written into the compose .env file";
  if (DOTENV_EXPANDS.test(v)) return "compose v1 (python-dotenv) replaces ${…} in a .env value by a variable, whatever the quoting: write the value without ${…}";
  if (!forms.some((f) => f.carries(v)))
    return "compose v1 and v2 read this value differently from a .env file whatever the quoting (a backslash before another backslash, a quote or the end of the value, or a carriage return, together with $NAME, ${ or $$, whitespace other than inner spaces, ' #', a leading quote or a control character)";
  return undefined;
}

/** `KEY=value` for the compose .env (the value in the first form both compose v1 and v2 read as is); throws naming the key, never the value. */
export function dotenvLine(key: string, v: string): string {
  const why = dotenvProblem(v);
  if (why) throw new Error(`compose .env value ${key}: ${why}`);
  return `${key}=${forms.find((f) => f.carries(v))!.write(v)}`;
}
