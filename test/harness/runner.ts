import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { EMULATED, actionName } from "./actions.ts";
import { evaluateCondition, evaluateValue, interpolate, toStringValue, type EvalContext, type StatusFunctions, type Value } from "./expressions.ts";

/**
 * Runs a GitHub Actions workflow's jobs for real, on this machine, the way a runner would:
 *  - jobs in `needs` order, each job's and step's `if:` evaluated (with the implicit `success()`),
 *    matrices expanded (including `${{ fromJSON(...) }}` matrices), job outputs from step outputs;
 *  - `run:` steps in bash (`shell: bash` is `bash --noprofile --norc -eo pipefail`, the default
 *    `bash -e`), in the workspace, with the env of workflow, job and step, the GITHUB_* / RUNNER_*
 *    variables, and GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY files read back
 *    after the step; workflow commands on stdout (`::error file=...,line=...::`, `::add-mask::`) become
 *    annotations and masks, and every secret is masked in the recorded logs, as GitHub does;
 *  - `uses:` steps: artifacts and the cache are emulated (./actions.ts); every other action (checkout,
 *    setup-node, ...) cannot run here and is recorded as skipped, with the reason;
 *  - `run:` steps listed in `skipRuns` (exact script text) are recorded as skipped with the caller's
 *    reason: the caller already did that work (e.g. `npm ci`).
 * Jobs run one after another; `concurrency:` is evaluated and recorded, not enforced. Enforced, as
 * GitHub does:
 *  - `permissions:` each job gets its own GITHUB_TOKEN (`secrets.GITHUB_TOKEN`, `github.token`) minted
 *    through `issueToken` with exactly the job's scopes (workflow default, else GitHub's restricted
 *    default; metadata: read always; read-only for a fork's pull request), so the GitHub stand-in
 *    refuses any call outside them; actions/checkout needs contents: read, another run's artifacts
 *    actions: read;
 *  - `environment:` repository secrets are visible to every job; an environment's secrets only to a job
 *    that declares that environment, and only when the run's ref is one of the environment's allowed
 *    branches (else the job fails, as GitHub's "not allowed to deploy" does); required reviewers are
 *    asked through `approve` (no answer is a refusal). A fork's pull request gets no secrets at all;
 *  - the ref: push and workflow_dispatch runs must say which ref they run on (github.ref, GITHUB_REF),
 *    as a dispatch on a branch sees that branch; schedule and workflow_run run on the default branch.
 * actions/checkout is performed by the caller's `checkout` (the harness passes the evaluated ref and
 * path and records what was checked out); without one it is skipped like other actions.
 */

export interface Annotation {
  level: "error" | "warning" | "notice";
  message: string;
  file?: string;
  line?: number;
  title?: string;
}

export interface StepResult {
  /** Names of the secrets (repository `NAME`, environment `env/NAME`, and `GITHUB_TOKEN`) whose values were in the step's environment. */
  secretsInEnv: string[];
  /** What an actions/checkout step checked out (through RunOptions.checkout). */
  checkout?: { path: string; ref: string; sha?: string };
  name: string;
  id?: string;
  uses?: string;
  run?: string;
  outcome: "success" | "failure" | "skipped";
  conclusion: "success" | "failure" | "skipped";
  /** Why the step did not run: its `if:` was false, the action cannot run here, or the caller's allow-list. */
  skipped?: string;
  emulated?: boolean;
  exitCode?: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  annotations: Annotation[];
  /** The step's evaluated `env:` (secrets masked). */
  env: Record<string, string>;
  durationMs: number;
}

export interface JobResult {
  id: string;
  name: string;
  matrix?: Record<string, Value>;
  result: "success" | "failure" | "skipped";
  /** Why a skipped job did not run. */
  skipped?: string;
  outputs: Record<string, string>;
  environment?: { name: string; url?: string };
  concurrency?: { group: string; cancelInProgress: boolean };
  permissions?: unknown;
  /** The scopes of the job's GITHUB_TOKEN, as enforced. */
  token: Record<string, "read" | "write">;
  /** Why GitHub would refuse to start the job (environment protection rules). */
  refused?: string;
  steps: StepResult[];
}

export interface WorkflowResult {
  runId: number;
  workflow: string;
  result: "success" | "failure";
  /** Every job (and every matrix leg) in the order run, skipped ones included. */
  jobs: JobResult[];
  job(id: string, matrix?: Record<string, Value>): JobResult;
  /** Every step of every job, flattened. */
  steps(): StepResult[];
  /** Every log line of every step (masked), for "this secret never appears" assertions. */
  logs(): string;
}

export interface RunOptions {
  /** Path of the workflow file. */
  workflow: string;
  /** The triggering event: pull_request, push, workflow_dispatch, schedule, ... */
  event: string;
  /** The webhook payload ($GITHUB_EVENT_PATH, github.event). */
  payload?: Record<string, unknown>;
  /** workflow_dispatch inputs (defaults and choice options come from the workflow). */
  inputs?: Record<string, string | boolean | number>;
  /** Repository secrets: every job sees them (none for a fork's pull request). */
  secrets?: Record<string, string>;
  /** GitHub environments by name. */
  environments?: Record<string, EnvironmentSpec>;
  /** A reviewer's decision for a job that waits on an environment with required reviewers; no answer is a rejection. */
  approve?: (job: { id: string; environment: string }) => boolean;
  /** Mints a job's GITHUB_TOKEN with exactly these scopes (the GitHub stand-in's issueToken); a fixed fake token otherwise. */
  issueToken?: (permissions: Record<string, "read" | "write">, job: string) => string;
  /** Performs an actions/checkout step: put `ref` (a sha or a branch) at `path` in the workspace. */
  checkout?: (c: { path: string; ref: string; fetchDepth: number; job: string }) => { sha: string } | void;
  vars?: Record<string, string>;
  /** The checkout: where `run:` steps execute. */
  workspace: string;
  /** Emulated artifacts and cache live here; keep it across runs for the cache to carry over. */
  store: string;
  github?: {
    repository?: string;
    sha?: string;
    ref?: string;
    headRef?: string;
    baseRef?: string;
    actor?: string;
    serverUrl?: string;
    apiUrl?: string;
  };
  /** The runner's environment (PATH, HOME, ...); process.env when omitted. */
  baseEnv?: NodeJS.ProcessEnv;
  /** `run:` steps the caller has already done (exact script text) and why. */
  skipRuns?: { script: string; reason: string }[];
  /** Called before each job (and each matrix leg) starts: e.g. reset the workspace to the job's ref. */
  beforeJob?: (job: { id: string; matrix?: Record<string, Value> }) => void | Promise<void>;
  /** Only these jobs (their `needs` must be in the list too, or they are skipped). */
  jobs?: string[];
  stepTimeoutMs?: number;
  /** Progress lines (job and step starts/ends). */
  log?: (line: string) => void;
}

export interface EnvironmentSpec {
  secrets?: Record<string, string>;
  /** Deployment branches: only runs on refs/heads/<one of these> may use the environment (all when absent). */
  branches?: string[];
  /** Required reviewers: a job waits for `approve`. */
  reviewers?: boolean;
}

const SCOPES = ["actions", "attestations", "checks", "contents", "deployments", "discussions", "id-token", "issues", "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses"];

/** The scopes of a job's token: declared (job, else workflow), else GitHub's restricted default; metadata: read always. */
export function tokenPermissions(declared: unknown, readOnly = false): Record<string, "read" | "write"> {
  let p: Record<string, string>;
  if (declared === undefined || declared === null) p = { contents: "read", packages: "read" };
  else if (declared === "read-all" || declared === "write-all") p = Object.fromEntries(SCOPES.map((k) => [k, declared === "read-all" ? "read" : "write"]));
  else if (typeof declared === "object") p = { ...(declared as Record<string, string>) };
  else throw new Error(`permissions: '${String(declared)}' is not understood`);
  const out: Record<string, "read" | "write"> = { metadata: "read" };
  for (const [k, v] of Object.entries(p)) {
    if (v === "none") continue;
    if (v !== "read" && v !== "write") throw new Error(`permissions.${k}: '${v}' (expected read, write or none)`);
    out[k] = readOnly ? "read" : v;
  }
  return out;
}

interface WorkflowYaml {
  name?: string;
  on?: unknown;
  env?: Record<string, unknown>;
  defaults?: { run?: { shell?: string; "working-directory"?: string } };
  permissions?: unknown;
  jobs: Record<string, JobYaml>;
}

interface JobYaml {
  name?: string;
  needs?: string | string[];
  if?: unknown;
  "runs-on"?: unknown;
  permissions?: unknown;
  environment?: string | { name: string; url?: string };
  concurrency?: string | { group: string; "cancel-in-progress"?: boolean | string };
  outputs?: Record<string, string>;
  env?: Record<string, unknown>;
  defaults?: { run?: { shell?: string; "working-directory"?: string } };
  strategy?: { matrix?: unknown; "fail-fast"?: boolean; "max-parallel"?: number };
  "continue-on-error"?: boolean | string;
  steps?: StepYaml[];
}

interface StepYaml {
  id?: string;
  name?: string;
  if?: unknown;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  shell?: string;
  "working-directory"?: string;
  "continue-on-error"?: boolean | string;
  "timeout-minutes"?: number;
}

let runCounter = 0;
const RUN_ID_BASE = Date.now();

export function loadWorkflow(file: string): WorkflowYaml {
  const doc = parseYaml(readFileSync(file, "utf8")) as WorkflowYaml;
  if (!doc || typeof doc !== "object" || !doc.jobs) throw new Error(`${file}: not a workflow (no jobs)`);
  return doc;
}

/** The workflow's triggers as a map (`on: push`, `on: [a, b]` and `on: {a: ...}` all become a map). */
export function triggers(wf: WorkflowYaml): Record<string, unknown> {
  const on = wf.on ?? (wf as unknown as Record<string, unknown>)["true"]; // YAML 1.1 readers turn `on` into true
  if (typeof on === "string") return { [on]: null };
  if (Array.isArray(on)) return Object.fromEntries(on.map((e) => [String(e), null]));
  return (on ?? {}) as Record<string, unknown>;
}

function dispatchInputs(wf: WorkflowYaml, event: string, given: RunOptions["inputs"] = {}): Record<string, Value> {
  const spec = ((triggers(wf)[event] as { inputs?: Record<string, { type?: string; default?: unknown; required?: boolean; options?: string[] }> } | null)?.inputs ?? {}) as Record<
    string,
    { type?: string; default?: unknown; required?: boolean; options?: string[] }
  >;
  for (const name of Object.keys(given)) if (!(name in spec)) throw new Error(`input '${name}' is not declared by the workflow (declared: ${Object.keys(spec).join(", ") || "none"})`);
  const out: Record<string, Value> = {};
  for (const [name, s] of Object.entries(spec)) {
    let v: unknown = given[name] ?? s.default;
    if (v === undefined) {
      if (s.required) throw new Error(`input '${name}' is required`);
      v = s.type === "boolean" ? false : "";
    }
    if (s.type === "choice" && !(s.options ?? []).includes(String(v))) throw new Error(`input '${name}': '${String(v)}' is not one of ${(s.options ?? []).join(", ")}`);
    out[name] = s.type === "boolean" ? v === true || v === "true" : s.type === "number" ? Number(v) : String(v);
  }
  return out;
}

function jobOrder(jobs: Record<string, JobYaml>): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (id: string) => {
    if (state.get(id) === "done") return;
    if (state.get(id) === "visiting") throw new Error(`a cycle in 'needs' through job '${id}'`);
    if (!jobs[id]) throw new Error(`'needs' names an unknown job '${id}'`);
    state.set(id, "visiting");
    for (const n of needsOf(jobs[id]!)) visit(n);
    state.set(id, "done");
    order.push(id);
  };
  for (const id of Object.keys(jobs)) visit(id);
  return order;
}

function needsOf(job: JobYaml): string[] {
  return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
}

function expandMatrix(matrix: Value): Record<string, Value>[] {
  if (matrix === null || matrix === undefined) return [];
  if (typeof matrix !== "object" || Array.isArray(matrix)) throw new Error(`strategy.matrix must be a mapping, got ${toStringValue(matrix)}`);
  const { include, exclude, ...axes } = matrix as Record<string, Value>;
  let combos: Record<string, Value>[] = [{}];
  for (const [axis, values] of Object.entries(axes)) {
    if (!Array.isArray(values)) throw new Error(`matrix axis '${axis}' must be a list`);
    if (values.length === 0) throw new Error(`Matrix vector '${axis}' does not contain any values`);
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [axis]: v })));
  }
  if (Object.keys(axes).length === 0) combos = [];
  const matches = (c: Record<string, Value>, partial: Record<string, Value>) => Object.entries(partial).every(([k, v]) => JSON.stringify(c[k]) === JSON.stringify(v));
  if (Array.isArray(exclude)) combos = combos.filter((c) => !exclude.some((e) => matches(c, e as Record<string, Value>)));
  if (Array.isArray(include)) {
    for (const inc of include as Record<string, Value>[]) {
      const axisKeys = Object.keys(inc).filter((k) => k in axes);
      const targets = combos.filter((c) => axisKeys.every((k) => JSON.stringify(c[k]) === JSON.stringify(inc[k])));
      if (targets.length && axisKeys.length) targets.forEach((t) => Object.assign(t, inc));
      else combos.push({ ...inc });
    }
  }
  return combos;
}

/** `name=value` lines and `name<<DELIM` heredocs, as in $GITHUB_OUTPUT and $GITHUB_ENV. */
export function parseKeyValueFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value: string[] = [];
      i++;
      while (i < lines.length && lines[i] !== delim) value.push(lines[i++]!);
      if (i >= lines.length) throw new Error(`unterminated heredoc for '${name}' (delimiter ${delim})`);
      out[name!] = value.join("\n");
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`invalid line in a GITHUB_OUTPUT/GITHUB_ENV file: ${line}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function unescapeData(s: string): string {
  return s.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%");
}

function unescapeProperty(s: string): string {
  return s.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%3A/g, ":").replace(/%2C/g, ",").replace(/%25/g, "%");
}

/** Workflow commands a step printed: annotations and masks (https://docs.github.com/actions/reference/workflow-commands). */
export function parseWorkflowCommands(stdout: string): { annotations: Annotation[]; masks: string[] } {
  const annotations: Annotation[] = [];
  const masks: string[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^::([a-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!m) continue;
    const [, command, props = "", data = ""] = m;
    if (command === "add-mask") masks.push(unescapeData(data));
    if (command === "error" || command === "warning" || command === "notice") {
      const p: Record<string, string> = {};
      for (const kv of props.split(",")) {
        const eq = kv.indexOf("=");
        if (eq > 0) p[kv.slice(0, eq).trim()] = unescapeProperty(kv.slice(eq + 1));
      }
      annotations.push({ level: command, message: unescapeData(data), file: p.file, line: p.line ? Number(p.line) : undefined, title: p.title });
    }
  }
  return { annotations, masks };
}

function mask(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join("***");
  return out;
}

function stringMap(v: Value): Record<string, string> {
  if (v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new Error(`expected a mapping, got ${toStringValue(v)}`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toStringValue(x)]));
}

function runProcess(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[harness] step timed out after ${opts.timeoutMs} ms\n`;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, opts.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

function shellCommand(shell: string | undefined, script: string): { command: string; args: string[] } {
  // https://docs.github.com/actions/reference/workflow-syntax-for-github-actions#defaultsrunshell
  if (shell === undefined) return { command: "bash", args: ["-e", script] };
  if (shell === "bash") return { command: "bash", args: ["--noprofile", "--norc", "-eo", "pipefail", script] };
  if (shell === "sh") return { command: "sh", args: ["-e", script] };
  if (shell.includes("{0}")) {
    const [command, ...args] = shell.split(/\s+/);
    return { command: command!, args: args.map((a) => a.replace("{0}", script)) };
  }
  throw new Error(`shell '${shell}' is not supported by the harness`);
}

export async function runWorkflow(opts: RunOptions): Promise<WorkflowResult> {
  const wf = loadWorkflow(opts.workflow);
  const on = triggers(wf);
  if (!(opts.event in on)) throw new Error(`${opts.workflow} does not run on '${opts.event}' (it runs on: ${Object.keys(on).join(", ")})`);
  const runId = RUN_ID_BASE + ++runCounter;
  const inputs = dispatchInputs(wf, opts.event, opts.inputs);
  const log = opts.log ?? (() => {});
  if ((opts.event === "push" || opts.event === "workflow_dispatch") && !opts.github?.ref) {
    throw new Error(`a ${opts.event} run needs github.ref: it runs on the branch it was pushed or dispatched on`);
  }
  // A pull request from a fork: no secrets, a read-only token (https://docs.github.com/actions/security-for-github-actions).
  const headRepo = ((opts.payload?.pull_request as { head?: { repo?: { full_name?: string } } } | undefined)?.head?.repo?.full_name) ?? undefined;
  const fromFork = opts.event === "pull_request" && headRepo !== undefined && headRepo !== (opts.github?.repository ?? "gatehouse/gatehouse");
  const repoSecrets: Record<string, string> = fromFork ? {} : { ...opts.secrets };
  delete repoSecrets.GITHUB_TOKEN; // the token is minted per job below, with that job's permissions
  const secretValues = [...Object.values(opts.secrets ?? {}), ...Object.values(opts.environments ?? {}).flatMap((e) => Object.values(e.secrets ?? {}))].filter(Boolean);
  mkdirSync(opts.store, { recursive: true });
  const runnerTemp = mkdtempSync(path.join(opts.store, "runner-temp-"));
  const eventPath = path.join(runnerTemp, "event.json");
  const payload = { ...(opts.event === "workflow_dispatch" ? { inputs } : {}), ...opts.payload };
  writeFileSync(eventPath, JSON.stringify(payload, null, 2));
  const g = opts.github ?? {};
  const repository = g.repository ?? "gatehouse/gatehouse";
  const ref = g.ref ?? "refs/heads/main";
  const refName = ref.replace(/^refs\/(heads|tags)\//, "").replace(/^refs\/pull\/(\d+)\/merge$/, "$1/merge");
  const github: Record<string, Value> = {
    event_name: opts.event,
    event: payload as Value,
    sha: g.sha ?? "0000000000000000000000000000000000000000",
    ref,
    ref_name: refName,
    head_ref: g.headRef ?? "",
    base_ref: g.baseRef ?? "",
    repository,
    repository_owner: repository.split("/")[0]!,
    run_id: String(runId),
    run_number: String(runCounter),
    run_attempt: "1",
    actor: g.actor ?? "harness",
    server_url: g.serverUrl ?? "https://github.com",
    api_url: g.apiUrl ?? "https://api.github.com",
    workspace: opts.workspace,
    workflow: wf.name ?? path.basename(opts.workflow),
    token: "",
    event_path: eventPath,
  };
  const githubEnv: Record<string, string> = {
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_WORKSPACE: opts.workspace,
    GITHUB_EVENT_NAME: opts.event,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SHA: String(github.sha),
    GITHUB_REF: ref,
    GITHUB_REF_NAME: refName,
    GITHUB_REF_TYPE: ref.startsWith("refs/tags/") ? "tag" : "branch",
    GITHUB_HEAD_REF: String(github.head_ref),
    GITHUB_BASE_REF: String(github.base_ref),
    GITHUB_REPOSITORY: repository,
    GITHUB_REPOSITORY_OWNER: String(github.repository_owner),
    GITHUB_RUN_ID: String(runId),
    GITHUB_RUN_NUMBER: String(github.run_number),
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_ACTOR: String(github.actor),
    GITHUB_SERVER_URL: String(github.server_url),
    GITHUB_API_URL: String(github.api_url),
    GITHUB_GRAPHQL_URL: `${String(github.api_url)}/graphql`,
    GITHUB_WORKFLOW: String(github.workflow),
    RUNNER_OS: "Linux",
    RUNNER_ARCH: "X64",
    RUNNER_NAME: "gatehouse-harness",
    RUNNER_TEMP: runnerTemp,
  };

  const results: JobResult[] = [];
  const finished = new Map<string, { result: JobResult["result"]; outputs: Record<string, string> }>();
  const skipRuns = new Map((opts.skipRuns ?? []).map((s) => [s.script.trim(), s.reason]));

  for (const jobId of jobOrder(wf.jobs)) {
    const job = wf.jobs[jobId]!;
    const needs: Record<string, Value> = {};
    for (const n of needsOf(job)) needs[n] = { result: finished.get(n)?.result ?? "skipped", outputs: finished.get(n)?.outputs ?? {} };
    const needResults = Object.values(needs).map((n) => (n as { result: string }).result);
    const jobStatus: StatusFunctions = {
      success: () => needResults.every((r) => r === "success"),
      failure: () => needResults.some((r) => r === "failure"),
      cancelled: () => false,
    };
    const base = { github, inputs, vars: opts.vars ?? {}, needs };
    const skippedJob = (reason: string): JobResult => ({ id: jobId, name: job.name ?? jobId, result: "skipped", skipped: reason, outputs: {}, steps: [], permissions: job.permissions ?? wf.permissions, token: {} });

    if (opts.jobs && !opts.jobs.includes(jobId)) {
      log(`job ${jobId}: not selected`);
      results.push(skippedJob("not selected"));
      finished.set(jobId, { result: "skipped", outputs: {} });
      continue;
    }
    const runIt = evaluateCondition(job.if, { contexts: { ...base }, status: jobStatus });
    if (!runIt) {
      log(`job ${jobId}: skipped (if: ${String(job.if ?? "success()")})`);
      results.push(skippedJob(`if: ${String(job.if ?? "success()")}`));
      finished.set(jobId, { result: "skipped", outputs: {} });
      continue;
    }

    let legs: (Record<string, Value> | undefined)[] = [undefined];
    if (job.strategy?.matrix !== undefined) {
      const matrix = evaluateValue(job.strategy.matrix, { contexts: { ...base } });
      legs = expandMatrix(matrix);
    }
    const legResults: JobResult[] = [];
    for (const matrix of legs) {
      await opts.beforeJob?.({ id: jobId, matrix });
      const r = await runJob({ jobId, job, wf, matrix, base, repoSecrets, fromFork, secretValues, githubEnv, opts, runId, log, skipRuns, runnerTemp });
      results.push(r);
      legResults.push(r);
    }
    const result: JobResult["result"] = legResults.some((r) => r.result === "failure") ? "failure" : "success";
    const outputs: Record<string, string> = {};
    for (const r of legResults) for (const [k, v] of Object.entries(r.outputs)) if (v !== "") outputs[k] = v;
    finished.set(jobId, { result, outputs });
  }

  const failed = results.some((r) => r.result === "failure");
  return {
    runId,
    workflow: opts.workflow,
    result: failed ? "failure" : "success",
    jobs: results,
    job(id, matrix) {
      const found = results.find((r) => r.id === id && (!matrix || Object.entries(matrix).every(([k, v]) => JSON.stringify(r.matrix?.[k]) === JSON.stringify(v))));
      if (!found) throw new Error(`no job '${id}'${matrix ? ` with matrix ${JSON.stringify(matrix)}` : ""} in this run (jobs: ${results.map((r) => r.id).join(", ")})`);
      return found;
    },
    steps: () => results.flatMap((r) => r.steps),
    logs: () => results.flatMap((r) => r.steps.map((s) => `${s.stdout}\n${s.stderr}\n${s.summary}\n${JSON.stringify(s.outputs)}\n${JSON.stringify(s.env)}`)).join("\n"),
  };
}

interface JobRunInput {
  jobId: string;
  job: JobYaml;
  wf: WorkflowYaml;
  matrix?: Record<string, Value>;
  base: Record<string, Value>;
  repoSecrets: Record<string, string>;
  fromFork: boolean;
  secretValues: string[];
  githubEnv: Record<string, string>;
  opts: RunOptions;
  runId: number;
  log: (line: string) => void;
  skipRuns: Map<string, string>;
  runnerTemp: string;
}

async function runJob(x: JobRunInput): Promise<JobResult> {
  const { job, jobId, opts } = x;
  const strategy: Value = { "fail-fast": job.strategy?.["fail-fast"] ?? true, "job-index": 0, "job-total": 1 };
  const plainContexts: EvalContext["contexts"] = { ...x.base, matrix: x.matrix ?? {}, strategy };
  // The environment is known before the job starts (its name may use matrix, needs, inputs, github).
  const envName = job.environment ? interpolate(typeof job.environment === "string" ? job.environment : job.environment.name, { contexts: plainContexts }) : undefined;
  const spec = envName ? (opts.environments?.[envName] ?? {}) : undefined;
  const github = x.base.github as Record<string, Value>;
  const permissions = tokenPermissions(job.permissions ?? x.wf.permissions, x.fromFork);
  const token = opts.issueToken ? opts.issueToken(permissions, jobId) : `ghs_harness_${x.runId}_${jobId}_${Object.entries(permissions).map(([k, v]) => `${k}-${v}`).join("_")}`;
  const refused = (() => {
    if (!envName || !spec) return undefined;
    const ref = String(github.ref);
    if (spec.branches && !spec.branches.some((b) => ref === `refs/heads/${b}`)) return `${ref} is not allowed to deploy to ${envName} due to environment protection rules`;
    if (spec.reviewers && !opts.approve?.({ id: jobId, environment: envName })) return `the deployment to ${envName} was not approved by a required reviewer`;
    return undefined;
  })();
  // Environment secrets override repository secrets of the same name; a fork's PR gets neither.
  const secrets: Record<string, string> = { ...x.repoSecrets, ...(envName && !refused && !x.fromFork ? spec!.secrets : {}), GITHUB_TOKEN: token };
  const allSecrets: [string, string][] = [
    ...Object.entries(opts.secrets ?? {}).filter(([k]) => k !== "GITHUB_TOKEN"),
    ...Object.entries(opts.environments ?? {}).flatMap(([e, s]) => Object.entries(s.secrets ?? {}).map(([k, v]) => [`${e}/${k}`, v] as [string, string])),
    ["GITHUB_TOKEN", token],
  ];
  const masks = [...x.secretValues, token];
  if (refused) {
    x.log(`job ${jobId}: refused (${refused})`);
    return { id: jobId, name: job.name ?? jobId, matrix: x.matrix, result: "failure", refused, outputs: {}, environment: { name: envName! }, permissions: job.permissions ?? x.wf.permissions, token: permissions, steps: [] };
  }
  const jobContexts = (extra: Record<string, Value>): EvalContext["contexts"] => ({
    ...x.base,
    github: { ...github, token },
    secrets,
    matrix: x.matrix ?? {},
    strategy,
    runner: { os: "Linux", arch: "X64", temp: x.runnerTemp, name: "gatehouse-harness" },
    job: { status: "success" },
    ...extra,
  });
  const name = interpolate(job.name ?? jobId, { contexts: jobContexts({ env: {} }) });
  // Workflow env, then job env; like GitHub, neither can read the `env` context itself.
  const wfEnv = stringMap(evaluateValue(x.wf.env ?? {}, { contexts: jobContexts({}) }));
  const jobEnv = { ...wfEnv, ...stringMap(evaluateValue(job.env ?? {}, { contexts: jobContexts({}) })) };
  const concurrency = job.concurrency
    ? typeof job.concurrency === "string"
      ? { group: interpolate(job.concurrency, { contexts: jobContexts({}) }), cancelInProgress: false }
      : {
          group: interpolate(job.concurrency.group, { contexts: jobContexts({}) }),
          cancelInProgress: String(evaluateValue(job.concurrency["cancel-in-progress"] ?? false, { contexts: jobContexts({}) })) === "true",
        }
    : undefined;
  const shellDefault = job.defaults?.run?.shell ?? x.wf.defaults?.run?.shell;
  const workdirDefault = job.defaults?.run?.["working-directory"] ?? x.wf.defaults?.run?.["working-directory"];

  const steps: StepResult[] = [];
  const stepsContext: Record<string, Value> = {};
  const addedEnv: Record<string, string> = {};
  const addedPath: string[] = [];
  const posts: (() => void)[] = [];
  let failed = false;
  const stepStatus: StatusFunctions = { success: () => !failed, failure: () => failed, cancelled: () => false };
  x.log(`job ${jobId}${x.matrix ? ` ${JSON.stringify(x.matrix)}` : ""}: start`);

  for (const [index, step] of (job.steps ?? []).entries()) {
    const started = Date.now();
    const env = { ...jobEnv, ...addedEnv };
    const ctx: EvalContext = { contexts: jobContexts({ env, steps: stepsContext, job: { status: failed ? "failure" : "success" } }), status: stepStatus };
    const ownEnv = stringMap(evaluateValue(step.env ?? {}, ctx));
    const stepEnv = { ...env, ...ownEnv };
    const ctxWithStepEnv: EvalContext = { ...ctx, contexts: { ...ctx.contexts, env: stepEnv } };
    const displayName = step.name ? interpolate(step.name, ctxWithStepEnv) : step.uses ? `Run ${step.uses}` : `Run ${(step.run ?? "").split("\n")[0]}`;
    const result: StepResult = {
      secretsInEnv: [],
      name: displayName,
      id: step.id,
      uses: step.uses,
      run: step.run,
      outcome: "skipped",
      conclusion: "skipped",
      stdout: "",
      stderr: "",
      outputs: {},
      summary: "",
      annotations: [],
      env: Object.fromEntries(Object.entries(ownEnv).map(([k, v]) => [k, mask(v, masks)])),
      durationMs: 0,
    };
    const record = () => {
      result.durationMs = Date.now() - started;
      steps.push(result);
      if (step.id) stepsContext[step.id] = { outputs: result.outputs, outcome: result.outcome, conclusion: result.conclusion };
      x.log(`  step ${index + 1} ${displayName}: ${result.skipped ? `skipped (${result.skipped})` : `${result.conclusion} in ${result.durationMs} ms`}`);
    };

    if (!evaluateCondition(step.if, ctxWithStepEnv)) {
      result.skipped = `if: ${String(step.if ?? "success()")}`;
      record();
      continue;
    }
    const continueOnError = String(evaluateValue(step["continue-on-error"] ?? false, ctxWithStepEnv)) === "true";

    if (step.uses && actionName(step.uses) === "actions/checkout" && opts.checkout) {
      const w = stringMap(evaluateValue(step.with ?? {}, ctxWithStepEnv));
      const c = { path: w.path || ".", ref: w.ref || String(github.sha), fetchDepth: Number(w["fetch-depth"] ?? 1) };
      result.emulated = true;
      if (!permissions.contents) {
        result.outcome = result.conclusion = "failure";
        result.stderr = "Repository not found (the job's token has no contents permission)";
        failed = true;
      } else {
        const done = opts.checkout({ ...c, job: jobId });
        result.checkout = { ...c, sha: done ? done.sha : undefined };
        result.outcome = result.conclusion = "success";
      }
      record();
      continue;
    }
    if (step.uses) {
      const emulation = EMULATED[actionName(step.uses)];
      if (!emulation) {
        result.skipped = `the harness cannot run ${step.uses} (the caller prepared what it provides)`;
        record();
        continue;
      }
      result.emulated = true;
      const withInputs = stringMap(evaluateValue(step.with ?? {}, ctxWithStepEnv));
      const logs: string[] = [];
      try {
        const r = emulation({ with: withInputs, workspace: opts.workspace, store: opts.store, runId: x.runId, permissions, log: (l) => logs.push(l), post: (fn) => posts.push(fn) });
        result.outputs = r.outputs;
        result.outcome = r.error ? "failure" : "success";
        if (r.error) result.stderr = r.error;
      } catch (e) {
        result.outcome = "failure";
        result.stderr = (e as Error).message;
      }
      result.stdout = logs.join("\n");
      result.conclusion = result.outcome === "failure" && !continueOnError ? "failure" : "success";
      if (result.conclusion === "failure") failed = true;
      record();
      continue;
    }

    const script = step.run ?? "";
    const skipReason = x.skipRuns.get(script.trim());
    if (skipReason !== undefined) {
      result.skipped = `allow-listed by the caller: ${skipReason}`;
      record();
      continue;
    }
    const dir = mkdtempSync(path.join(x.runnerTemp, `step-${index}-`));
    const files = { output: path.join(dir, "output"), env: path.join(dir, "env"), path: path.join(dir, "path"), summary: path.join(dir, "summary"), state: path.join(dir, "state") };
    for (const f of Object.values(files)) writeFileSync(f, "");
    const scriptFile = path.join(dir, "script.sh");
    writeFileSync(scriptFile, script);
    const processEnv: NodeJS.ProcessEnv = {
      ...opts.baseEnv ?? process.env,
      ...x.githubEnv,
      GITHUB_JOB: jobId,
      GITHUB_ACTION: step.id ?? `__run_${index}`,
      GITHUB_OUTPUT: files.output,
      GITHUB_ENV: files.env,
      GITHUB_PATH: files.path,
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_STATE: files.state,
      ...stepEnv,
    };
    if (addedPath.length) processEnv.PATH = [...addedPath, processEnv.PATH].join(path.delimiter);
    const stepValues = Object.values(stepEnv);
    result.secretsInEnv = allSecrets.filter(([, v]) => v && v.length >= 3 && stepValues.some((e) => e.includes(v))).map(([k]) => k);
    const { command, args } = shellCommand(step.shell ?? shellDefault, scriptFile);
    const cwd = path.resolve(opts.workspace, step["working-directory"] ?? workdirDefault ?? ".");
    mkdirSync(cwd, { recursive: true });
    const timeoutMs = step["timeout-minutes"] ? Math.min(step["timeout-minutes"] * 60_000, opts.stepTimeoutMs ?? Infinity) : (opts.stepTimeoutMs ?? 300_000);
    const r = await runProcess(command, args, { cwd, env: processEnv, timeoutMs });
    const commands = parseWorkflowCommands(r.stdout);
    masks.push(...commands.masks);
    result.exitCode = r.code;
    result.outcome = r.code === 0 ? "success" : "failure";
    result.conclusion = r.code === 0 || continueOnError ? "success" : "failure";
    result.stdout = mask(r.stdout, masks);
    result.stderr = mask(r.stderr, masks);
    result.annotations = commands.annotations.map((a) => ({ ...a, message: mask(a.message, masks) }));
    result.outputs = parseKeyValueFile(readFileSync(files.output, "utf8"));
    result.summary = mask(readFileSync(files.summary, "utf8"), masks);
    Object.assign(addedEnv, parseKeyValueFile(readFileSync(files.env, "utf8")));
    addedPath.unshift(...readFileSync(files.path, "utf8").split("\n").filter(Boolean).reverse());
    if (result.conclusion === "failure") failed = true;
    record();
  }

  if (!failed) for (const post of posts) post();
  const endCtx: EvalContext = { contexts: jobContexts({ env: { ...jobEnv, ...addedEnv }, steps: stepsContext, job: { status: failed ? "failure" : "success" } }) };
  const outputs = Object.fromEntries(Object.entries(job.outputs ?? {}).map(([k, v]) => [k, interpolate(String(v), endCtx)]));
  const environment = envName
    ? typeof job.environment === "string"
      ? { name: envName }
      : { name: envName, url: job.environment!.url ? interpolate(job.environment!.url, endCtx) : undefined }
    : undefined;
  x.log(`job ${jobId}: ${failed ? "failure" : "success"}`);
  return {
    id: jobId,
    name,
    matrix: x.matrix,
    result: failed ? "failure" : "success",
    outputs,
    environment,
    concurrency,
    permissions: job.permissions ?? x.wf.permissions,
    token: permissions,
    steps,
  };
}
