// THE shell-quoting function. Every value placed into a remote script goes through quote(),
// directly or through the sh`` template; no user value is ever concatenated into shell text.

export class UnquotableError extends Error {}

/**
 * A single bash word that expands to exactly `value`, byte for byte: single quotes, with each
 * embedded ' written as '\''. Inside single quotes bash interprets nothing ($, `, \, !, globs,
 * newlines and unicode are literal). NUL cannot be represented in a shell word, so it is refused.
 */
export function quote(value: string | number): string {
  const s = String(value);
  if (s.includes("\0")) throw new UnquotableError(`cannot pass a value containing a NUL byte to a shell: ${JSON.stringify(s.slice(0, 40))}`);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s; // nothing to quote: keeps scripts readable
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A fragment of shell text that is already safe (built by sh`` or a trusted literal). */
export class Shell {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type ShellValue = string | number | Shell | readonly (string | number | Shell)[];

/**
 * Template tag: literal parts are trusted script text, every interpolation is quoted
 * (arrays become several words; Shell fragments are inserted as they are).
 *   sh`mkdir -p ${dir} && cd ${dir}`
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): Shell {
  // an invalid escape such as \1 leaves a cooked string undefined: never drop script text silently
  if (strings.some((s) => s === undefined)) throw new Error(`invalid escape sequence in a sh\`\` template: ${strings.raw.join("${…}")}`);
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += words(v) + strings[i + 1]!;
  });
  return new Shell(out);
}

function words(v: ShellValue): string {
  if (v instanceof Shell) return v.text;
  if (Array.isArray(v)) return v.map((x) => words(x)).join(" ");
  return quote(v as string | number);
}

/** Join script fragments into one script, one per line. */
export function script(...parts: (Shell | string | false | undefined)[]): Shell {
  return new Shell(parts.filter((p): p is Shell | string => p !== false && p !== undefined).map(String).join("\n"));
}
