// A fake GitHub REST API on 127.0.0.1 that answers with the examples of GitHub's published OpenAPI
// description (@octokit/openapi) and keeps deployments, their statuses and issue comments in memory.
// EVERY request is recorded so that it can be checked against that description: method + path
// template, path and query parameters, and the JSON body against the operation's requestBody schema
// ($refs resolved by ajv) with no keys the operation does not declare. Its answers can be checked
// against the response schemas too.
//
//   const gh = await FakeGitHub.start();           // GITHUB_API_URL = gh.url
//   ... run `slipway github deployment create|status`, `slipway github last-deployed` ...
//   expect(gh.problems()).toEqual([]);
//   expect(gh.deploymentsFor("nas")[0]).toMatchObject({ sha, statuses: [{ state: "success" }, { state: "in_progress" }] });
//   await gh.stop();
//
// Each instance has its own state; the OpenAPI description (a large JSON) and its ajv validators are
// loaded once per process, on first use.
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// ---- the OpenAPI description as a validator (shared, lazy) ---------------------------------------

interface OpenApi {
  spec: Json;
  ajv: Ajv;
  validators: Map<string, ValidateFunction>;
}
let loaded: OpenApi | undefined;
function openapi(): OpenApi {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const spec = JSON.parse(readFileSync(require.resolve("@octokit/openapi/generated/api.github.com.json"), "utf8")) as Json;
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  ajv.addFormat("uri", /^[a-z][a-z0-9+.-]*:\/\/\S+$/i);
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  ajv.addSchema({ $id: "github", components: spec.components, paths: spec.paths });
  return (loaded = { spec, ajv, validators: new Map() });
}

const pointer = (...parts: string[]) => "github#/" + parts.map((p) => encodeURIComponent(p.replace(/~/g, "~0").replace(/\//g, "~1"))).join("/");
function validator(ref: string): ValidateFunction {
  const { ajv, validators } = openapi();
  let v = validators.get(ref);
  if (!v) validators.set(ref, (v = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref })));
  return v;
}
/** an object of the description, following a local $ref */
const deref = (o: Json): Json => (typeof o?.$ref === "string" ? deref(o.$ref.slice(2).split("/").reduce((x: Json, k: string) => x[k.replace(/~1/g, "/").replace(/~0/g, "~")], openapi().spec)) : o);

export interface Recorded {
  method: string;
  /** path and query, as sent (e.g. /repos/o/r/deployments?environment=nas) */
  url: string;
  headers: IncomingHttpHeaders;
  /** the parsed JSON body (the raw text when it is not JSON); undefined when there is none */
  body?: unknown;
}
export interface Answered {
  method: string;
  pathname: string;
  status: number;
  body: unknown;
}
interface Match {
  template: string;
  op: Json;
  params: Record<string, string>;
}

function findOperation(method: string, pathname: string): Match | undefined {
  const matches: Match[] = [];
  for (const [template, item] of Object.entries<Json>(openapi().spec.paths)) {
    const op = item[method.toLowerCase()];
    if (!op) continue;
    const names: string[] = [];
    const re = new RegExp("^" + template.replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), "([^/]+)")) + "$");
    const m = re.exec(pathname);
    if (m) matches.push({ template, op, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) });
  }
  return matches.sort((a, b) => Object.keys(a.params).length - Object.keys(b.params).length)[0];
}

const coerce = (schema: Json, v: string): unknown => (schema.type === "integer" || schema.type === "number" ? Number(v) : schema.type === "boolean" ? v === "true" : v);

/** Everything wrong with one request according to the OpenAPI description ([] = valid). */
export function requestProblems(r: { method: string; url: string; body?: unknown }): string[] {
  const { ajv } = openapi();
  const url = new URL(r.url, "http://x");
  const m = findOperation(r.method, url.pathname);
  if (!m) return [`${r.method} ${url.pathname}: no such operation in GitHub's API`];
  const where = `${r.method} ${m.template} (${m.op.operationId})`;
  const problems: string[] = [];
  const params = (m.op.parameters ?? []).map(deref);
  for (const p of params.filter((p: Json) => p.in === "path")) {
    const sv = ajv.compile(p.schema);
    if (!sv(coerce(p.schema, m.params[p.name]!))) problems.push(`${where}: path parameter ${p.name}=${m.params[p.name]} ${(sv.errors ?? []).map((e) => e.message).join(", ")}`);
  }
  for (const [k, v] of url.searchParams) {
    const p = params.find((p: Json) => p.in === "query" && p.name === k);
    if (!p) problems.push(`${where}: unknown query parameter ${k}`);
    else {
      const sv = ajv.compile(p.schema);
      if (!sv(coerce(p.schema, v))) problems.push(`${where}: query parameter ${k}=${v} ${(sv.errors ?? []).map((e) => e.message).join(", ")}`);
    }
  }
  const rb = m.op.requestBody ? deref(m.op.requestBody) : undefined;
  if (!rb) {
    if (r.body !== undefined) problems.push(`${where}: takes no body`);
    return problems;
  }
  if (r.body === undefined) return rb.required ? [...problems, `${where}: the body is required`] : problems;
  const ref = m.op.requestBody.$ref ? `github#${m.op.requestBody.$ref.slice(1)}/content/application~1json/schema` : pointer("paths", m.template, r.method.toLowerCase(), "requestBody", "content", "application/json", "schema");
  const v = validator(ref);
  if (!v(r.body)) problems.push(...(v.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message}${e.params && "allowedValues" in e.params ? ` (${(e.params.allowedValues as string[]).join(", ")})` : ""}`));
  // GitHub ignores keys it does not know, so a misspelt key would be silently dropped: refuse them
  const declared = Object.keys(deref(rb.content["application/json"].schema).properties ?? {});
  if (r.body && typeof r.body === "object") for (const k of Object.keys(r.body)) if (!declared.includes(k)) problems.push(`${where}: body has key '${k}', which the operation does not declare (${declared.join(", ")})`);
  return problems;
}

/** Whether a response body is shaped like the operation's response schema for that status ([] = it is). */
export function responseProblems(method: string, pathname: string, status: number, body: unknown): string[] {
  const m = findOperation(method, pathname);
  if (!m) return [`${method} ${pathname}: no such operation in GitHub's API`];
  if (!m.op.responses[String(status)]?.content) return [];
  const v = validator(pointer("paths", m.template, method.toLowerCase(), "responses", String(status), "content", "application/json", "schema"));
  return v(body) ? [] : (v.errors ?? []).map((e) => `${method} ${m.template} -> ${status}: ${e.instancePath} ${e.message}`);
}

/** The example an operation's documentation gives for a status (a fresh copy). */
export function example(method: string, template: string, status: number): Json {
  const content = openapi().spec.paths[template][method.toLowerCase()].responses[String(status)].content["application/json"];
  const first = Object.values<Json>(content.examples)[0]!;
  return structuredClone(deref(first).value);
}

// ---- the fake GitHub ------------------------------------------------------------------------------

export interface FakeGitHubState {
  /** newest first, as GitHub lists them */
  deployments: Json[];
  /** per deployment id, newest first */
  statuses: Map<number, Json[]>;
  /** oldest first; each with an `issue` number (not shown in answers) */
  comments: Json[];
  /** the id the next created deployment, status or comment gets */
  nextId: number;
}

/** A deployment as GitHub would show it: the deployment with its statuses, newest first. */
export type DeploymentWithStatuses = Json & { id: number; sha: string; ref: string; task: string; environment: string; payload: unknown; statuses: Json[] };

const freshState = (): FakeGitHubState => ({ deployments: [], statuses: new Map(), comments: [], nextId: 1000 });

export class FakeGitHub {
  /** every request, in the order received */
  recorded: Recorded[] = [];
  /** every answer, in the order sent */
  answered: Answered[] = [];
  state: FakeGitHubState = freshState();
  private failure?: { status: number; message: string; when?: (method: string, pathname: string) => boolean };

  private constructor(
    private readonly server: Server,
    /** GITHUB_API_URL for the code under test, e.g. http://127.0.0.1:41234 */
    readonly url: string,
  ) {}

  /** Listens on 127.0.0.1 on a free port. */
  static async start(): Promise<FakeGitHub> {
    openapi(); // load the description before the first request rather than during it
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const gh = new FakeGitHub(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown;
        let bad = false;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = text;
          bad = true;
        }
        const url = new URL(req.url!, "http://127.0.0.1");
        gh.recorded.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        let status: number;
        let out: unknown;
        try {
          [status, out] = bad ? [400, { message: "Problems parsing JSON", documentation_url: "https://docs.github.com/rest" }] : gh.handle(req.method!, url, body as Json | undefined);
        } catch (e) {
          [status, out] = [500, { message: `fake GitHub: ${(e as Error).message}` }];
        }
        gh.answered.push({ method: req.method!, pathname: url.pathname, status, body: out });
        res.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(out));
      });
    });
    return gh;
  }

  /**
   * Every problem of every recorded request against the OpenAPI description, and of every
   * successful answer against its response schema ([] = all valid). Each names the request.
   */
  problems(): string[] {
    return [
      ...this.recorded.flatMap((r) => requestProblems(r).map((p) => `${r.method} ${r.url}: ${p}`)),
      ...this.answered.filter((a) => a.status < 300).flatMap((a) => responseProblems(a.method, a.pathname, a.status, a.body).map((p) => `answer: ${p}`)),
    ];
  }

  /** Forgets every request, answer, deployment, status and comment, and a pending failNext. */
  reset(): void {
    this.recorded = [];
    this.answered = [];
    this.state = freshState();
    this.failure = undefined;
  }

  /** The next request (or the next one `when` accepts) is answered with this HTTP status and GitHub-style error message. */
  failNext(status: number, message: string, when?: (method: string, pathname: string) => boolean): void {
    this.failure = { status, message, when };
  }

  /** The deployments created for an environment, newest first, each with its statuses (newest first). */
  deploymentsFor(environment: string): DeploymentWithStatuses[] {
    return this.state.deployments
      .filter((d) => d.environment === environment)
      .map((d) => structuredClone({ ...d, statuses: this.state.statuses.get(d.id) ?? [] }) as DeploymentWithStatuses);
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(method: string, url: URL, body: Json | undefined): [number, unknown] {
    const state = this.state;
    if (this.failure && (!this.failure.when || this.failure.when(method, url.pathname))) {
      const f = this.failure;
      this.failure = undefined;
      return [f.status, { message: f.message, documentation_url: "https://docs.github.com/rest" }];
    }
    const m = findOperation(method, url.pathname);
    if (!m) return [404, { message: "Not Found" }];
    // GitHub refuses what its description does not allow (and ignores unknown keys and query
    // parameters, which problems() still reports): nothing invalid gets into the state
    const invalid = requestProblems({ method, url: url.pathname + url.search, body }).filter((x) => !/: (body has key '|unknown query parameter )/.test(x));
    if (invalid.length) return [422, { message: "Validation Failed", errors: invalid, documentation_url: "https://docs.github.com/rest" }];
    const p = m.params;
    switch (`${method} ${m.template}`) {
      case "POST /repos/{owner}/{repo}/deployments": {
        const d = example(method, m.template, 201);
        // what GitHub stores for the keys a request leaves out: the defaults its description documents
        const environment = body!.environment ?? "production";
        Object.assign(d, { id: state.nextId++, sha: body!.ref, ref: body!.ref, task: body!.task ?? "deploy", environment, original_environment: environment, payload: body!.payload ?? {}, description: body!.description ?? "", transient_environment: body!.transient_environment ?? false, production_environment: body!.production_environment ?? environment === "production" });
        d.url = `${this.url}/repos/${p.owner}/${p.repo}/deployments/${d.id}`;
        state.deployments.unshift(d);
        return [201, d];
      }
      case "GET /repos/{owner}/{repo}/deployments": {
        const q = url.searchParams;
        const list = state.deployments.filter((d) => (!q.get("environment") || d.environment === q.get("environment")) && (!q.get("task") || d.task === q.get("task")));
        return [200, list.slice(0, Number(q.get("per_page") ?? 30))];
      }
      case "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses": {
        const id = Number(p.deployment_id);
        if (!state.deployments.some((d) => d.id === id)) return [404, { message: "Not Found" }];
        const s = example(method, m.template, 201);
        Object.assign(s, { id: state.nextId++, state: body!.state, description: body!.description ?? "", environment: state.deployments.find((d) => d.id === id)!.environment, target_url: body!.log_url ?? s.target_url, log_url: body!.log_url ?? s.log_url, environment_url: body!.environment_url ?? s.environment_url });
        state.statuses.set(id, [s, ...(state.statuses.get(id) ?? [])]);
        return [201, s];
      }
      case "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses":
        return [200, (state.statuses.get(Number(p.deployment_id)) ?? []).slice(0, Number(url.searchParams.get("per_page") ?? 30))];
      case "GET /repos/{owner}/{repo}/issues/{issue_number}/comments": {
        const per = Number(url.searchParams.get("per_page") ?? 30);
        const page = Number(url.searchParams.get("page") ?? 1);
        return [200, state.comments.filter((c) => c.issue === Number(p.issue_number)).slice((page - 1) * per, page * per).map(({ issue, ...c }) => c)];
      }
      case "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": {
        const c = example(method, m.template, 201);
        Object.assign(c, { id: state.nextId++, body: body!.body, issue: Number(p.issue_number) });
        state.comments.push(c);
        const { issue, ...shown } = c;
        return [201, shown];
      }
      case "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": {
        const c = state.comments.find((x) => x.id === Number(p.comment_id));
        if (!c) return [404, { message: "Not Found" }];
        c.body = body!.body;
        const { issue, ...shown } = { ...example(method, m.template, 200), ...c };
        return [200, shown];
      }
    }
    return [404, { message: "Not Found" }];
  }
}
