// The ledger of a deploy-to (<deploy-to>/_slipway/ledger.jsonl): one JSON object per line, appended
// by deploys and rollbacks, read by status, drift and rollback. This module is its only writer and
// reader, so a crash cannot break it for one of them and not the others:
// - a line is appended whole or not at all: a failed append (a full disk) is cut back to the size
//   the file had, and a line always starts on a line of its own (after a fragment an older version
//   or a crash left, a newline first), so a damaged line never swallows the next one; then fsync;
// - a reader skips a damaged line and reports it with its line number, and goes on.
import { z } from "zod";
import { sh, Shell } from "../commands/quote.js";

/** The version new lines carry; lines without `v` are version 1 too (written before it was recorded). */
export const LEDGER_VERSION = 1;

/** A migration a deploy's run applied, with its class (src/lint/rules.ts MigrationClass). */
export const appliedMigrationSchema = z.object({ database: z.string(), name: z.string(), class: z.enum(["expand", "contract", "unknown"]) });
export type AppliedMigrationRecord = z.infer<typeof appliedMigrationSchema>;

/** apply-migrations' `migrations` output as a deploy's input receives it: empty, or its JSON array. */
export function parseAppliedMigrations(text: string, what: string): AppliedMigrationRecord[] {
  if (text.trim() === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not JSON (${(e as Error).message}): pass apply-migrations' migrations output as it is`);
  }
  const r = z.array(appliedMigrationSchema).safeParse(value);
  if (!r.success) throw new Error(`${what} is not a list of applied migrations (${r.error.issues.map((i) => `${i.path.join(".") || "value"}: ${i.message}`).join("; ")}): pass apply-migrations' migrations output as it is`);
  return r.data;
}

/** What every reader relies on; everything else a line holds is kept as it is (passthrough). */
export const ledgerEntrySchema = z
  .object({
    v: z.number().int().positive().optional(),
    time: z.string().optional(),
    host: z.string().optional(),
    service: z.string().optional(),
    release: z.string().optional(),
    outcome: z.string().optional(),
    sha: z.string().optional(),
    /** the migration head(s) after the deploy's run (one per database, space-separated) */
    migrationHead: z.string().optional(),
    /** the migrations the deploy's run applied, expand or contract (rollback refuses to cross a contract one) */
    migrations: z.array(appliedMigrationSchema).optional(),
  })
  .passthrough();

export type LedgerEntry = z.infer<typeof ledgerEntrySchema> & Record<string, unknown>;

export interface DamagedLine {
  /** 1-based, in the whole file */
  line: number;
  text: string;
  why: string;
}

export interface ParsedLedger {
  entries: LedgerEntry[];
  damaged: DamagedLine[];
}

/** The marks readLedgerScript prints around the lines (the first with the file's line count, for the line numbers). */
const BEGIN = "slipway:ledger-lines ";
const END = "slipway:ledger-end";

/**
 * Parse ledger lines — readLedgerScript's block inside a script's output, or a whole file: entries
 * in order, damaged lines (not JSON, not an object, a field of the wrong type, a newer version)
 * reported with their line numbers in the file.
 */
export function parseLedger(text: string): ParsedLedger {
  const all = text.split("\n");
  const begin = all.findIndex((l) => l.startsWith(BEGIN));
  let lines: string[];
  let first = 1;
  if (begin >= 0) {
    const end = all.indexOf(END, begin);
    lines = all.slice(begin + 1, end >= 0 ? end : undefined);
    // the block is the file's tail: number its lines from the file's end
    first = Math.max(1, Number(all[begin]!.slice(BEGIN.length)) - lines.length + 1);
  } else lines = all;
  const entries: LedgerEntry[] = [];
  const damaged: DamagedLine[] = [];
  lines.forEach((text, i) => {
    if (text.trim() === "") return;
    const line = first + i;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return void damaged.push({ line, text: text.slice(0, 200), why: `not JSON (${(e as Error).message})` });
    }
    const parsed = ledgerEntrySchema.safeParse(value);
    if (!parsed.success) return void damaged.push({ line, text: text.slice(0, 200), why: parsed.error.issues.map((x) => `${x.path.join(".") || "line"}: ${x.message}`).join("; ") });
    if ((parsed.data.v ?? 1) > LEDGER_VERSION) return void damaged.push({ line, text: text.slice(0, 200), why: `written by a newer slipway (ledger version ${parsed.data.v}; this one reads ${LEDGER_VERSION})` });
    entries.push(parsed.data as LedgerEntry);
  });
  return { entries, damaged };
}

/** What a reader says about the damaged lines it skipped (one line per damaged line). */
export const damagedWarnings = (where: string, ledger: string, damaged: DamagedLine[]): string[] =>
  damaged.map((d) => `[${where}] ${ledger} line ${d.line} is damaged and was skipped (${d.why}): ${JSON.stringify(d.text)}`);

/** The last `lines` lines of the ledger between two marks, the first with the file's line count (a last line without newline counts). */
export function readLedgerScript(ledger: string, lines = 50): Shell {
  return sh`if [ -f ${ledger} ]; then
  echo "${new Shell(BEGIN)}$(awk 'END { print NR }' ${ledger})"
  tail -n ${lines} ${ledger}
  if [ -n "$(tail -c 1 ${ledger})" ]; then echo; fi
  echo ${END}
fi`;
}

/**
 * A bash function, slipway_append_ledger LEDGER LINE: the line appended whole (a newline first when
 * the file does not end in one), then fsync; on any failure the file is cut back to its size before
 * and the function says why on stderr (with "disk full" when it is) and returns 1.
 */
export const appendLedgerFunction = new Shell(`slipway_append_ledger() {
  local f=$1 line=$2 size err
  size=$(stat -c %s -- "$f" 2>/dev/null || echo 0)
  if [ "$size" -gt 0 ] && [ -n "$(tail -c 1 -- "$f")" ]; then line=$'\\n'"$line"; fi
  err=$(printf '%s\\n' "$line" 2>&1 >> "$f") || {
    local rc=$?
    truncate -s "$size" -- "$f" 2>/dev/null || true
    case $err in *"No space left"*) err="disk full on $(df -P -- "$(dirname -- "$f")" | awk 'NR == 2 { print $6 }')" ;; "") err="the write failed (exit status $rc)" ;; esac
    echo "the ledger line could not be written to $f: $err" >&2
    return 1
  }
  sync -- "$f" 2>/dev/null || true
}`);

/** Append one entry (known on the runner) to the ledger. */
export function appendLedgerScript(ledger: string, entry: object): Shell {
  return sh`${appendLedgerFunction}
slipway_append_ledger ${ledger} ${JSON.stringify({ v: LEDGER_VERSION, ...entry })}`;
}

/** A value of a ledger line that only the host knows: the name of a script variable holding it. */
export type HostValue = { string: string } | { bool: string } | { strings: string };

/**
 * Append a ledger line: `entry` (known on the runner) plus `fromHost` fields read from the
 * script's variables when it runs, JSON-escaped by the host (so a deploy needs no extra round
 * trip for its bookkeeping). An unset or empty variable leaves its field out.
 */
export function appendHostLedgerScript(ledger: string, entry: object, fromHost: Record<string, HostValue>): Shell {
  const prefix = JSON.stringify({ v: LEDGER_VERSION, ...entry }).replace(/\}$/, "");
  const v = (name: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a script variable name: ${name}`);
    return new Shell(name);
  };
  const fields = Object.entries(fromHost).map(([key, hv]) => {
    const k = `,${JSON.stringify(key)}:`;
    if ("string" in hv) return sh`if [ -n "\${${v(hv.string)}:-}" ]; then line+=${k}$(json_str "$${v(hv.string)}"); fi`;
    if ("bool" in hv) return sh`if [ -n "\${${v(hv.bool)}:-}" ]; then line+=${k}; if [ "$${v(hv.bool)}" = 1 ]; then line+=true; else line+=false; fi; fi`;
    return sh`if [ -n "\${${v(hv.strings)}[*]:-}" ]; then sep=; line+=${k}[; for x in "\${${v(hv.strings)}[@]}"; do line+=$sep$(json_str "$x"); sep=,; done; line+=]; fi`;
  });
  return sh`json_str() {
  local LC_ALL=C s=$1 out= c i
  for ((i = 0; i < \${#s}; i++)); do
    c=\${s:i:1}
    case $c in
      '"' | '\\') out+="\\\\$c" ;;
      [[:cntrl:]]) out+=$(printf '\\\\u%04x' "'$c") ;;
      *) out+=$c ;;
    esac
  done
  printf '"%s"' "$out"
}
${appendLedgerFunction}
line=${prefix}
${fields.length ? fields.reduce((a, b) => sh`${a}\n${b}`) : sh`:`}
slipway_append_ledger ${ledger} "$line}"`;
}
