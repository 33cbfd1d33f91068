// What a `uses:` step runs. A local action (`./path`) comes from the job's workspace (the checkout);
// `<owner>/<name>/<path>@<ref>` comes from a local clone registered for that repository, at that ref
// (git archive), so the reference a user writes is the one exercised. The four third-party actions
// our workflows use have small local stand-ins (documented in docs/workflow-runner.md); any other
// `uses:` is an error naming it, never a silent skip.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { isMapping, isString, NoOperationTraceWriter } from "@actions/workflow-parser";
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/template-token";
import { parseAction } from "@actions/workflow-parser/actions/action-parser";
import { raw } from "./template.js";

export type ResolvedAction =
  | { kind: "node"; dir: string; main: string; using: string; inputs: Record<string, TemplateToken | undefined>; ref: string }
  | { kind: "stand-in"; name: "checkout" | "setup-node" | "upload-artifact" | "download-artifact"; ref: string };

const STAND_INS = new Set(["actions/checkout", "actions/setup-node", "actions/upload-artifact", "actions/download-artifact"]);

/** Extracts `ref` of a local git repository into `cache` once (git archive: only committed files). */
export function gitExport(repo: string, ref: string, dest: string): string {
  let commit: string;
  try {
    commit = execFileSync("git", ["-C", repo, "rev-parse", "--verify", `${ref}^{commit}`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    throw new Error(`${repo} has no commit, tag or branch '${ref}'`);
  }
  const dir = path.join(dest, commit);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    execFileSync("bash", ["-c", 'git -C "$1" archive "$2" | tar -x -C "$3"', "export", repo, commit, dir]);
  }
  return dir;
}

export function resolveAction(uses: string, o: { workspace: string; actionRepos: Record<string, string>; cache: string }): ResolvedAction {
  if (uses.startsWith("docker://")) throw new Error(`'uses: ${uses}': docker actions are not emulated by the local runner`);
  let dir: string;
  if (uses.startsWith("./")) dir = path.resolve(o.workspace, uses);
  else {
    const m = /^([^/@]+)\/([^/@]+)(\/[^@]*)?@(.+)$/.exec(uses);
    if (!m) throw new Error(`'uses: ${uses}' is not ./path or owner/repo[/path]@ref`);
    const [, owner, name, sub, ref] = m;
    const repo = `${owner}/${name}`;
    if (STAND_INS.has(repo.toLowerCase()) && !sub) return { kind: "stand-in", name: name!.toLowerCase() as "checkout", ref: ref! };
    const local = o.actionRepos[repo] ?? Object.entries(o.actionRepos).find(([k]) => k.toLowerCase() === repo.toLowerCase())?.[1];
    if (!local) throw new Error(`'uses: ${uses}': the local runner has no copy of ${repo} (only ${[...STAND_INS, ...Object.keys(o.actionRepos)].join(", ")}); it does not download actions: give it a clone (npm run workflow -- --action-repo ${repo}=DIR)`);
    dir = path.join(gitExport(local, ref!, path.join(o.cache, repo.replace("/", "__"))), sub ?? "");
  }
  const file = ["action.yml", "action.yaml"].map((f) => path.join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`'uses: ${uses}': no action.yml in ${dir}${uses.startsWith("./") ? " (did a checkout step run before it?)" : ""}`);
  const parsed = parseAction({ name: file, content: readFileSync(file, "utf8") }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors();
  if (errors.length || !parsed.value) throw new Error(`${file} is not a valid action: ${errors.map((e) => e.message).join("; ")}`);
  const runs = raw(parsed.value, "runs");
  const using = raw(runs, "using")?.toString() ?? "";
  if (!/^node\d+$/.test(using)) throw new Error(`'uses: ${uses}': runs.using '${using}' is not emulated by the local runner (node actions only)`);
  for (const unsupported of ["pre", "post"]) if (raw(runs, unsupported)) throw new Error(`'uses: ${uses}': runs.${unsupported} is not emulated by the local runner`);
  const inputs: Record<string, TemplateToken | undefined> = {};
  const declared = raw(parsed.value, "inputs");
  if (declared && isMapping(declared)) for (const pair of declared) inputs[pair.key.toString()] = raw(pair.value, "default");
  const main = raw(runs, "main");
  return { kind: "node", dir, main: path.join(dir, main && isString(main) ? main.value : "index.js"), using, inputs, ref: uses };
}

/** The artifact store of one run (actions/upload-artifact and download-artifact v4 semantics). */
export class ArtifactStore {
  constructor(private readonly root: string) {}

  /**
   * Uploads `paths` (one per line; `!path` excludes) relative to `workspace`. As upload-artifact
   * does, the files are stored relative to the least common ancestor of the included paths.
   */
  upload(name: string, paths: string, workspace: string, ifNoFiles: string): string {
    const dest = path.join(this.root, name);
    if (existsSync(dest)) throw new Error(`an artifact named '${name}' already exists in this run (upload-artifact@v4 refuses to overwrite)`);
    const lines = paths.split("\n").map((l) => l.trim()).filter(Boolean);
    for (const l of lines) if (/[*?[\]{}]/.test(l)) throw new Error(`upload-artifact stand-in: glob '${l}' is not supported (name directories or files)`);
    const include = lines.filter((l) => !l.startsWith("!")).map((l) => path.resolve(workspace, l));
    const exclude = lines.filter((l) => l.startsWith("!")).map((l) => path.resolve(workspace, l.slice(1)));
    const files: string[] = [];
    const walk = (p: string) => {
      if (exclude.some((x) => p === x || p.startsWith(x.endsWith(path.sep) ? x : x + path.sep))) return;
      if (!existsSync(p)) return;
      if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
      else files.push(p);
    };
    include.forEach(walk);
    if (!files.length) {
      const msg = `no files were found with the provided path: ${lines.join(", ")}`;
      if (ifNoFiles === "error") throw new Error(msg);
      return ifNoFiles === "ignore" ? "" : `::warning::${msg}. No artifacts will be uploaded.`;
    }
    const bases = include.map((p) => (existsSync(p) && statSync(p).isDirectory() ? p : path.dirname(p)));
    let base = bases[0]!;
    while (!bases.every((b) => b === base || b.startsWith(base + path.sep))) base = path.dirname(base);
    for (const f of files) {
      mkdirSync(path.dirname(path.join(dest, path.relative(base, f))), { recursive: true });
      cpSync(f, path.join(dest, path.relative(base, f)));
    }
    return `artifact '${name}': ${files.length} file(s) uploaded`;
  }

  /**
   * download-artifact v4: `name` into `to` itself; else every artifact (those `pattern` matches: *
   * and ? only) into `to/<name>`, or all into `to` with merge-multiple. No match is no error.
   */
  download(o: { name?: string; pattern?: string; merge?: boolean }, to: string): string {
    if (o.name) {
      const src = path.join(this.root, o.name);
      if (!existsSync(src)) throw new Error(`Unable to download artifact(s): Artifact '${o.name}' not found`);
      mkdirSync(to, { recursive: true });
      cpSync(src, to, { recursive: true });
      return `artifact '${o.name}' downloaded to ${to}`;
    }
    if (o.pattern && /[[\]{}!]/.test(o.pattern)) throw new Error(`download-artifact stand-in: pattern '${o.pattern}' uses more than * and ?`);
    const match = o.pattern ? new RegExp(`^${o.pattern.replace(/[.+^$()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`) : /^/;
    const names = (existsSync(this.root) ? readdirSync(this.root) : []).filter((n) => match.test(n)).sort();
    for (const n of names) {
      const dest = o.merge ? to : path.join(to, n);
      mkdirSync(dest, { recursive: true });
      cpSync(path.join(this.root, n), dest, { recursive: true });
    }
    return `${names.length} artifact(s)${o.pattern ? ` matching '${o.pattern}'` : ""} downloaded to ${to}${names.length ? `: ${names.join(", ")}` : ""}`;
  }
}

/**
 * checkout's stand-in: the repository at the run's commit, as the workspace's only content. With
 * fetch-depth 0 (all history, e.g. for `git diff base...head`) it is a clone with every branch and
 * commit, detached at the run's commit, as actions/checkout leaves it; otherwise the committed files only.
 */
export function checkout(repo: string, sha: string, workspace: string, cache: string, o: { history?: boolean } = {}): void {
  for (const e of existsSync(workspace) ? readdirSync(workspace) : []) rmSync(path.join(workspace, e), { recursive: true, force: true });
  mkdirSync(workspace, { recursive: true });
  if (o.history) {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: workspace, stdio: ["ignore", "pipe", "pipe"] });
    git("clone", "--quiet", "--no-checkout", "--no-local", repo, ".");
    git("checkout", "--quiet", "--detach", sha);
    return;
  }
  cpSync(gitExport(repo, sha, cache), workspace, { recursive: true });
}
