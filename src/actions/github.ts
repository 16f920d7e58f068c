import { readFileSync } from "node:fs";
import { Octokit } from "@octokit/rest";

/**
 * The GitHub side of the glue: where the run is (from the GITHUB_* variables every Actions step gets),
 * and the REST calls the workflows make with @octokit/rest. `GITHUB_API_URL` is honoured, so GitHub
 * Enterprise Server and the tests' local stand-in for api.github.com work unchanged.
 */

export interface RunContext {
  owner: string;
  repo: string;
  apiUrl: string;
  serverUrl: string;
  eventName: string;
  /** The webhook payload of the triggering event ($GITHUB_EVENT_PATH), {} when there is none. */
  event: Record<string, unknown>;
  sha?: string;
  refName?: string;
  runId?: string;
  /** Link to this workflow run, when the run id is known. */
  runUrl?: string;
}

export function runContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const repository = env.GITHUB_REPOSITORY ?? "";
  const [owner = "", repo = ""] = repository.split("/");
  const serverUrl = (env.GITHUB_SERVER_URL ?? "https://github.com").replace(/\/+$/, "");
  let event: Record<string, unknown> = {};
  if (env.GITHUB_EVENT_PATH) {
    try {
      event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, "utf8")) as Record<string, unknown>;
    } catch {
      event = {};
    }
  }
  return {
    owner,
    repo,
    apiUrl: (env.GITHUB_API_URL ?? "https://api.github.com").replace(/\/+$/, ""),
    serverUrl,
    eventName: env.GITHUB_EVENT_NAME ?? "",
    event,
    sha: env.GITHUB_SHA,
    refName: env.GITHUB_REF_NAME,
    runId: env.GITHUB_RUN_ID,
    runUrl: env.GITHUB_RUN_ID && repository ? `${serverUrl}/${repository}/actions/runs/${env.GITHUB_RUN_ID}` : undefined,
  };
}

/** The pull request number of a `pull_request` (or `pull_request_target`) event, if any. */
export function pullRequestNumber(ctx: RunContext): number | undefined {
  const pr = ctx.event.pull_request as { number?: unknown } | undefined;
  const n = pr?.number ?? ctx.event.number;
  return typeof n === "number" ? n : undefined;
}

export function octokitFor(token: string, apiUrl: string): Octokit {
  return new Octokit({ auth: token, baseUrl: apiUrl, userAgent: "gatehouse-actions" });
}

export interface UpsertResult {
  action: "created" | "updated" | "unchanged";
  id: number;
  url: string;
}

/**
 * One comment per PR: list the issue's comments, edit the first one carrying `marker` (when its body
 * differs), else create it. Repeated pushes therefore update one comment instead of adding new ones.
 */
export async function upsertComment(input: { octokit: Octokit; owner: string; repo: string; issueNumber: number; marker: string; body: string }): Promise<UpsertResult> {
  const { octokit, owner, repo, issueNumber, marker, body } = input;
  if (!body.includes(marker)) throw new Error(`the comment body must carry its marker ${marker}, or the next run cannot find it`);
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: issueNumber, per_page: 100 });
  const mine = comments.find((c) => c.body?.includes(marker));
  if (mine) {
    if (mine.body === body) return { action: "unchanged", id: mine.id, url: mine.html_url };
    const { data } = await octokit.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body });
    return { action: "updated", id: data.id, url: data.html_url };
  }
  const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
  return { action: "created", id: data.id, url: data.html_url };
}

/** A `workflow_dispatch` of another workflow of this repository (the staged rollout's next step). */
export async function dispatchWorkflow(input: { octokit: Octokit; owner: string; repo: string; workflow: string; ref: string; inputs: Record<string, string> }): Promise<void> {
  await input.octokit.rest.actions.createWorkflowDispatch({ owner: input.owner, repo: input.repo, workflow_id: input.workflow, ref: input.ref, inputs: input.inputs });
}
