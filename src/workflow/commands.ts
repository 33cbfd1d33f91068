// What a step says to the runner: workflow commands on stdout (`::add-mask::`, `::error::`, …) and
// the environment files GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY (docs:
// "Workflow commands for GitHub Actions"), and the masking of every secret in what is printed.

/** Replaces every registered value with *** in printed text (docs: "Masking a value in a log"). */
export class Masker {
  private values: string[] = [];

  add(value: string): void {
    // a multi-line secret is masked line by line too, as the runner does
    for (const v of [value, ...value.split(/\r?\n/)]) {
      const t = v.trim();
      if (t && !this.values.includes(t)) this.values.push(t);
    }
    this.values.sort((a, b) => b.length - a.length);
  }

  mask(text: string): string {
    let out = text;
    for (const v of this.values) out = out.split(v).join("***");
    return out;
  }

  /** true when `text` carries a masked value (such a job output is dropped, as GitHub does) */
  carries(text: string): boolean {
    return this.values.some((v) => text.includes(v));
  }
}

/** `name=value` lines and the `name<<DELIMITER` … `DELIMITER` form of GITHUB_OUTPUT and GITHUB_ENV. */
export function parseKeyValueFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const heredoc = /^([^=]+?)<<(.+)$/.exec(line);
    const eq = line.indexOf("=");
    if (heredoc && (eq < 0 || eq > line.indexOf("<<"))) {
      const [, key, delimiter] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i]!);
      if (i >= lines.length) throw new Error(`${file}: no closing delimiter '${delimiter}' for '${key}'`);
      out[key!] = value.join("\n");
    } else if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
    else throw new Error(`${file}: invalid line '${line}' (expected name=value or name<<DELIMITER)`);
  }
  return out;
}

export interface Command {
  name: string;
  properties: Record<string, string>;
  message: string;
}

const unescapeData = (s: string) => s.replace(/%0D/gi, "\r").replace(/%0A/gi, "\n").replace(/%25/g, "%");
const unescapeProperty = (s: string) => unescapeData(s).replace(/%3A/gi, ":").replace(/%2C/gi, ",");

/** One stdout line as a workflow command `::name key=value,…::message`, or undefined. */
export function parseCommand(line: string): Command | undefined {
  const m = /^\s*::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
  if (!m) return undefined;
  const properties: Record<string, string> = {};
  for (const kv of (m[2] ?? "").split(",").filter(Boolean)) {
    const i = kv.indexOf("=");
    if (i > 0) properties[kv.slice(0, i).trim()] = unescapeProperty(kv.slice(i + 1));
  }
  return { name: m[1]!.toLowerCase(), properties, message: unescapeData(m[3] ?? "") };
}
