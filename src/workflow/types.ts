// The local workflow runner's vocabulary: what a run is given and what it returns. GitHub's own
// words throughout (outcome vs conclusion, job result, run conclusion), as its docs define them.

/** An environment a job targets (docs: "Using environments for deployment"). */
export interface EnvironmentRef {
  name: string;
  url?: string;
}

/**
 * The answer to an environment's required-reviewers gate: approve, reject, or never answered
 * ("pending": the job waits until `approvalTimeoutMs`, then fails, as GitHub fails it after 30 days).
 */
export type Approval = "approve" | "reject" | "pending";
export type ApprovalCallback = (env: EnvironmentRef, job: string) => Approval | Promise<Approval>;

export interface RunOptions {
  /** the repository: a git checkout whose commit `sha` the checkout stand-in copies into the workspace */
  repo: string;
  /** the workflow file, relative to `repo` (e.g. .github/workflows/deploy.yml) */
  workflow: string;
  /** push | pull_request | workflow_dispatch | schedule (workflow_call happens through a caller job's `uses:`) */
  event: string;
  /** the event payload (github.event); the runner fills in what GitHub always sends when absent */
  payload?: Record<string, unknown>;
  /** workflow_dispatch inputs as given (strings, as the UI and the REST API send them) */
  inputs?: Record<string, string>;
  secrets?: Record<string, string>;
  vars?: Record<string, string>;
  /** commit to run (default: HEAD of `repo`) and ref (default refs/heads/main) */
  sha?: string;
  ref?: string;
  runId?: number;
  runAttempt?: number;
  actor?: string;
  /** owner/name (default acme/<basename of repo>) */
  repository?: string;
  /** where the run's workspaces, command files, summaries and artifacts go (default: a new temp dir) */
  workDir?: string;
  /** environment gate; default: every environment needs an approval nobody gives */
  approve?: ApprovalCallback;
  /** how long a pending approval waits before the job fails (default 0) */
  approvalTimeoutMs?: number;
  /** each line the run prints, already masked */
  log?: (line: string) => void;
  /** the artifacts directory of an earlier run of the repository, by run id (download-artifact's run-id); undefined: no such run */
  artifactsOfRun?: (runId: string) => string | undefined;
  /** shared between runs: concurrency groups (one running, at most one pending per group) */
  concurrency?: import("./concurrency.js").ConcurrencyGroups;
  /** `<owner>/<name>` references that resolve to a local checkout, e.g. { "acme/slipway": "/src/slipway" } */
  actionRepos?: Record<string, string>;
  /** extra environment for every step (e.g. GITHUB_API_URL of a fake GitHub); never secrets */
  env?: Record<string, string>;
  /** the node binary that runs `node24` actions and is first on PATH after setup-node (default: process.execPath) */
  node?: string;
}

export type Outcome = "success" | "failure" | "cancelled" | "skipped";

export interface StepResult {
  id: string;
  name: string;
  /** before continue-on-error */
  outcome: Outcome;
  /** after continue-on-error */
  conclusion: Outcome;
  outputs: Record<string, string>;
  durationMs: number;
  /** the step's printed lines (masked) */
  log: string;
  /** ::error:: messages and the runner's own reason a step failed */
  errors: string[];
  /** what the step wrote to GITHUB_STEP_SUMMARY (masked); the job's summary is every step's in order */
  summary: string;
}

export interface JobResult {
  /** job id, with the matrix values for a matrix job: `deploy (staging, 1)` */
  id: string;
  name: string;
  result: Outcome;
  outputs: Record<string, string>;
  steps: StepResult[];
  /** the job's markdown summary (every step's GITHUB_STEP_SUMMARY) and the file it was written to */
  summary: string;
  summaryFile?: string;
  environment?: EnvironmentRef;
  approval?: Approval;
  permissions?: unknown;
  matrix?: Record<string, unknown>;
  /** why the job failed or was skipped, when the runner decided it */
  reason?: string;
  durationMs: number;
  /** jobs of a called reusable workflow */
  jobs?: JobResult[];
}

export interface RunResult {
  conclusion: "success" | "failure" | "cancelled" | "skipped";
  jobs: JobResult[];
  /** every printed line (masked) */
  log: string;
  /** the run's directory (workspaces, summaries, artifacts) */
  workDir: string;
  /** the workflow's env and permissions as recorded */
  permissions?: unknown;
}
