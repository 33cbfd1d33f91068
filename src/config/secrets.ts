// Secrets come from the process environment (a workflow maps `secrets.*` into `env:`) and are
// referenced by NAME in environment files. Every value read, and every value derived from it
// (a DSN, a base64 form), is registered here: masked in GitHub logs and redacted by our own logs.

type Masker = (value: string) => void;

export class Secrets {
  private readonly values = new Set<string>();
  private maskers: Masker[] = [];

  constructor(private readonly source: NodeJS.ProcessEnv = process.env) {}

  /** Called for every new secret value, e.g. core.setSecret in an action. */
  onMask(masker: Masker): void {
    this.maskers.push(masker);
    for (const v of this.values) masker(v);
  }

  /** The value of secret NAME; a clear error names the secret (never its value) when it is missing. */
  get(name: string, usedFor: string): string {
    const value = this.source[name];
    if (value === undefined || value === "")
      throw new Error(`secret ${name} (needed for ${usedFor}) is not set: map it in the workflow step, e.g. env: { ${name}: \${{ secrets.${name} }} }`);
    this.register(value);
    return value;
  }

  has(name: string): boolean {
    return !!this.source[name];
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
