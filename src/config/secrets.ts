// Secrets come from the process environment and are referenced by NAME in environment files. A
// workflow either maps each one into the step's `env:` (NAME: ${{ secrets.NAME }}) or hands over all
// of them as SLIPWAY_SECRETS: ${{ toJSON(secrets) }}, which is how a reusable workflow that cannot
// know the caller's secret names passes them; either way only the names the environment file gives
// for what the step does are read (and masked). Every value read, and every value derived from it
// (a DSN, a base64 form), is registered here: masked in GitHub logs and redacted by our own logs.

type Masker = (value: string) => void;

/** A shorter secret is refused: masking "abc" would hide every "abc" of a log, and not masking it would leak it. */
export const MIN_SECRET_LENGTH = 8;

export class Secrets {
  private readonly values = new Set<string>();
  private maskers: Masker[] = [];

  private bundle: Record<string, unknown> | undefined;

  constructor(private readonly source: NodeJS.ProcessEnv = process.env) {}

  /** SLIPWAY_SECRETS, parsed once; a value that is not a JSON object is an error naming the variable */
  private bundled(): Record<string, unknown> {
    if (this.bundle) return this.bundle;
    const text = this.source.SLIPWAY_SECRETS;
    if (!text) return (this.bundle = {});
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("SLIPWAY_SECRETS is not a JSON object: set it to ${{ toJSON(secrets) }} in the workflow step's env");
    return (this.bundle = parsed as Record<string, unknown>);
  }

  private lookup(name: string): string | undefined {
    const direct = this.source[name];
    if (direct !== undefined && direct !== "") return direct;
    const v = this.bundled()[name];
    return typeof v === "string" && v !== "" ? v : undefined;
  }

  /** Called for every new secret value, e.g. core.setSecret in an action. */
  onMask(masker: Masker): void {
    this.maskers.push(masker);
    for (const v of this.values) masker(v);
  }

  /** The value of secret NAME; a clear error names the secret (never its value) when it is missing. */
  get(name: string, usedFor: string): string {
    const value = this.lookup(name);
    if (value === undefined)
      throw new Error(
        `secret ${name} (needed for ${usedFor}) is not set: map it in the workflow step, e.g. env: { ${name}: \${{ secrets.${name} }} } or env: { SLIPWAY_SECRETS: \${{ toJSON(secrets) }} }, and check that the repository or environment has a secret named ${name} (from a terminal: export ${name})`,
      );
    if (value.trim().length < MIN_SECRET_LENGTH)
      throw new Error(
        `secret ${name} (needed for ${usedFor}) is only ${value.trim().length} character(s) long: a value that short cannot be masked in logs and summaries without masking ordinary text, and is too weak for a credential; use at least ${MIN_SECRET_LENGTH} characters`,
      );
    this.register(value);
    return value;
  }

  has(name: string): boolean {
    return this.lookup(name) !== undefined;
  }

  /** Register a value derived from a secret so it is masked too. Returns the value. */
  derived(value: string): string {
    this.register(value);
    return value;
  }

  private register(value: string): void {
    // each line separately as well: GitHub masks per line, and keys are multi-line
    const parts = [value, Buffer.from(value).toString("base64"), encodeURIComponent(value), ...value.split(/\r?\n/)];
    for (const part of parts) {
      const p = part.trim();
      // PEM armour lines ("-----BEGIN … KEY-----") are not secret; masking them would only hide them
      if (p.length < 4 || /^-----(BEGIN|END) [A-Z ]+-----$/.test(p) || this.values.has(p)) continue;
      this.values.add(p);
      for (const m of this.maskers) m(p);
    }
  }

  /** Replace every known secret value in text by ***. */
  redact(text: string): string {
    let out = text;
    for (const v of [...this.values].sort((a, b) => b.length - a.length)) out = out.split(v).join("***");
    return out;
  }
}
