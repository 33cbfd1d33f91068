// The part of GitHub's runner protocol the actions speak (docs: "Workflow commands for GitHub
// Actions"), written as @actions/core writes it — the same escaping, the same heredoc delimiter for
// GITHUB_OUTPUT. Our own because @actions/core loads its OIDC client (@actions/http-client and
// undici, about 0.5 MB) at start-up, which every action paid for and none uses (bench/cold-start).
import { randomUUID } from "node:crypto";
import { accessSync, appendFileSync, constants, existsSync } from "node:fs";
import { EOL } from "node:os";

export interface AnnotationProperties {
  title?: string;
  file?: string;
  startLine?: number;
  startColumn?: number;
}

const escapeData = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");

/** `::name key=value,…::message` on stdout; properties without a value are left out. */
export function issueCommand(name: string, properties: Record<string, string | number | undefined>, message: string): void {
  const props = Object.entries(properties)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(",");
  process.stdout.write(`::${name}${props ? ` ${props}` : ""}::${escapeData(message)}${EOL}`);
}

const annotation = (p: AnnotationProperties = {}) => ({ title: p.title, file: p.file, line: p.startLine, col: p.startColumn });

/** INPUT_<NAME> (spaces as _, upper case), trimmed. */
export function getInput(name: string, o: { required?: boolean } = {}): string {
  const value = (process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
  if (o.required && !value) throw new Error(`Input required and not supplied: ${name}`);
  return value;
}

/** YAML 1.2 core schema booleans only, as the toolkit accepts them. */
export function getBooleanInput(name: string): boolean {
  const value = getInput(name);
  if (["true", "True", "TRUE"].includes(value)) return true;
  if (["false", "False", "FALSE"].includes(value)) return false;
  throw new TypeError(`Input does not meet YAML 1.2 "Core Schema" specification: ${name}\nSupport boolean input list: \`true | True | TRUE | false | False | FALSE\``);
}

/** An output through the GITHUB_OUTPUT file, in a heredoc whose delimiter the value cannot contain. */
export function setOutput(name: string, value: string): void {
  const file = process.env.GITHUB_OUTPUT;
  if (!file) {
    process.stdout.write(EOL);
    return issueCommand("set-output", { name }, value);
  }
  if (!existsSync(file)) throw new Error(`Missing file at path: ${file}`);
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delimiter) || value.includes(delimiter)) throw new Error(`Unexpected input: the output ${name} contains the delimiter "${delimiter}"`);
  appendFileSync(file, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, { encoding: "utf8" });
}

export const setSecret = (value: string) => issueCommand("add-mask", {}, value);
export const info = (message: string) => void process.stdout.write(message + EOL);
export const warning = (message: string, p?: AnnotationProperties) => issueCommand("warning", annotation(p), message);
export const error = (message: string, p?: AnnotationProperties) => issueCommand("error", annotation(p), message);
export const startGroup = (title: string) => issueCommand("group", {}, title);
export const endGroup = () => issueCommand("endgroup", {}, "");

export function setFailed(message: string): void {
  process.exitCode = 1;
  error(message);
}

/** Markdown appended to the job summary (GITHUB_STEP_SUMMARY). */
export function appendSummary(markdown: string): void {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) throw new Error("Unable to find environment variable for $GITHUB_STEP_SUMMARY. Check if your runtime environment supports job summaries.");
  try {
    accessSync(file, constants.R_OK | constants.W_OK);
  } catch {
    throw new Error(`Unable to access summary file: '${file}'. Check if the file has correct read/write permissions.`);
  }
  appendFileSync(file, markdown, { encoding: "utf8" });
}
