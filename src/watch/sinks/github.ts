import { createHash } from "node:crypto";
import { Octokit } from "@octokit/rest";
import { renderText, untrusted } from "../../review/untrusted.ts";
import { sleep } from "../rpc.ts";
import { marker, parseMarker, stateVerb, type FoundPost, type Sink, type SinkAlert, type SinkPost } from "./sink.ts";

/**
 * GitHub issues (@octokit/rest): one issue per post, labelled with the policy's labels and the severity,
 * edited in place when the operation is executed, cancelled or retracted, and then closed. Every issue
 * body starts with a `<!-- gatehouse:key=… -->` marker, so the sink can find its own issue by key (the
 * operation id) when the ledger is unsure whether an earlier create reached GitHub. Only issues the
 * token's own account wrote are adopted: anyone who may open an issue can copy a marker (its hash is
 * computable), and an adopted planted issue would silence the real post. A planted marker is ignored
 * and reported as an alert (`takeAlerts`).
 */
export interface GithubSinkOptions {
  repository: string;
  /** Read from the environment variable the policy names; never logged. */
  token: string;
  labels: string[];
  /** API root: https://api.github.com, a GitHub Enterprise URL, or a local stand-in in tests. */
  baseUrl?: string;
  attempts?: number;
  baseDelayMs?: number;
  /**
   * The login the token posts as, when it cannot be asked (GATEHOUSE_GITHUB_AUTHOR). By default it is
   * read once: GET /user (a personal or OAuth token), else GraphQL `viewer` (an App installation token,
   * whose issues are written by `<app>[bot]`).
   */
  author?: string;
}

interface IssueRef {
  number: number;
  state: string;
  contentHash?: string;
  postState?: string;
}

/** GitHub refuses issue bodies over 65,536 characters. */
export const MAX_ISSUE_BODY = 65_000;

export function issueBody(post: SinkPost): string {
  const footer = `\n---\n_Posted by the Gatehouse watcher · ${stateVerb(post)} · key \`${post.key}\`. The guardian's cancel path is above; \`npx gatehouse review ${post.operationId ?? "<operationId>"}\` renders this review locally._\n`;
  const body = `${marker(post)}\n${renderText(post.markdown, "markdown")}${post.operationId ? footer : ""}`;
  if (body.length <= MAX_ISSUE_BODY) return body;
  const note = `\n\n_… truncated: the full review is ${body.length} characters; run \`npx gatehouse review ${post.operationId ?? ""}\`._\n`;
  return body.slice(0, MAX_ISSUE_BODY - note.length) + note;
}

export function issueLabels(post: SinkPost, labels: string[]): string[] {
  return [...new Set([...labels, post.severity])];
}

/** GitHub's close reason for each terminal state; undefined keeps the issue open. */
export function closeReason(state: string): "completed" | "not_planned" | undefined {
  if (state === "executed" || state === "resolved") return "completed";
  if (state === "cancelled" || state === "retracted") return "not_planned";
  return undefined;
}

export function githubSink(opts: GithubSinkOptions): Sink {
  const [owner, repo] = opts.repository.split("/") as [string, string];
  const octokit = new Octokit({
    auth: opts.token,
    baseUrl: opts.baseUrl ?? "https://api.github.com",
    userAgent: "gatehouse-watcher",
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  const attempts = opts.attempts ?? 5;
  const base = opts.baseDelayMs ?? 1000;
  let index: Map<string, IssueRef> | undefined;
  let identity: Promise<Set<string>> | undefined;
  const reported = new Set<number>();
  const pendingAlerts: SinkAlert[] = [];
  const sinkId = `github:${opts.repository}`;

  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const err = e as { status?: number; response?: { headers?: Record<string, string | undefined> } };
        const headers = err.response?.headers ?? {};
        const limited = err.status === 429 || (err.status === 403 && (headers["retry-after"] !== undefined || headers["x-ratelimit-remaining"] === "0"));
        const transient = err.status === undefined || err.status >= 500 || limited;
        if (!transient || attempt >= attempts) throw new Error(`GitHub ${what} in ${opts.repository}: ${err.status ?? ""} ${(e as Error).message}`.replace(opts.token, "***"), { cause: e });
        const retryAfter = Number(headers["retry-after"]) || 0;
        await sleep(Math.max(retryAfter * 1000, base * 2 ** (attempt - 1)));
      }
    }
  }

  /** The logins whose issues are the bot's own (read once per process). */
  function authors(): Promise<Set<string>> {
    identity ??= (async () => {
      if (opts.author) return new Set([opts.author]);
      try {
        const { data } = await call("reading the token's account (GET /user)", () => octokit.rest.users.getAuthenticated());
        return new Set([data.login]);
      } catch (e) {
        const status = (e as { cause?: { status?: number } }).cause?.status;
        if (status !== 403 && status !== 404) throw e;
      }
      // An App installation token (GITHUB_TOKEN in Actions) may not read /user; GraphQL's viewer is the app's bot.
      const viewer = await call("reading the token's account (GraphQL viewer)", () => octokit.graphql<{ viewer: { login: string } }>("query { viewer { login } }"));
      const login = viewer.viewer.login;
      return new Set(login.endsWith("[bot]") ? [login] : [login, `${login}[bot]`]);
    })();
    identity.catch(() => (identity = undefined));
    return identity;
  }

  /** Every Gatehouse issue of the repository written by the bot, by key (listed once per process, then kept up to date). */
  async function issues(): Promise<Map<string, IssueRef>> {
    if (index) return index;
    const mine = await authors();
    const map = new Map<string, IssueRef>();
    for (let page = 1; page <= 50; page++) {
      const { data } = await call("listing issues", () =>
        octokit.rest.issues.listForRepo({ owner, repo, state: "all", labels: opts.labels.join(","), per_page: 100, page, sort: "created", direction: "asc" }),
      );
      for (const issue of data) {
        const m = parseMarker(issue.body);
        if (!m) continue;
        const author = issue.user?.login ?? "(unknown)";
        if (!mine.has(author)) {
          if (!reported.has(issue.number)) {
            reported.add(issue.number);
            pendingAlerts.push(plantedMarker(sinkId, opts.repository, issue.number, author, m.key, issue.html_url));
          }
          continue;
        }
        if (!map.has(m.key)) map.set(m.key, { number: issue.number, state: issue.state, contentHash: m.contentHash, postState: m.state });
      }
      if (data.length < 100) break;
    }
    index = map;
    return map;
  }

  return {
    id: sinkId,
    takeAlerts: () => pendingAlerts.splice(0),
    async find(key): Promise<FoundPost | undefined> {
      const ref = (await issues()).get(key);
      return ref ? { remoteId: String(ref.number), ...(ref.contentHash ? { contentHash: ref.contentHash } : {}), ...(ref.postState ? { state: ref.postState } : {}) } : undefined;
    },
    async publish(post, remote) {
      const body = issueBody(post);
      const labels = issueLabels(post, opts.labels);
      const reason = closeReason(post.state);
      let number = remote.remoteId ? Number(remote.remoteId) : undefined;
      if (number === undefined) {
        const { data } = await call("creating an issue", () => octokit.rest.issues.create({ owner, repo, title: renderText(post.title, "plain"), body, labels }));
        number = data.number;
        index?.set(post.key, { number, state: "open", contentHash: post.contentHash, postState: post.state });
        if (reason) await call("closing an issue", () => octokit.rest.issues.update({ owner, repo, issue_number: number!, state: "closed", state_reason: reason }));
      } else {
        await call("editing an issue", () =>
          octokit.rest.issues.update({ owner, repo, issue_number: number!, title: renderText(post.title, "plain"), body, labels, state: reason ? "closed" : "open", ...(reason ? { state_reason: reason } : {}) }),
        );
      }
      index?.set(post.key, { number, state: reason ? "closed" : "open", contentHash: post.contentHash, postState: post.state });
      return { remoteId: String(number) };
    },
  };
}

/** The alert for an issue that carries a Gatehouse marker but was not written by the bot. */
export function plantedMarker(sink: string, repository: string, issue: number, author: string, key: string, url?: string): SinkAlert {
  const tag = createHash("sha256").update(sink).digest("hex").slice(0, 8);
  return {
    key: `alert:planted-${tag}:${issue}`,
    kind: "planted-marker",
    title: `ALERT: issue #${issue} in ${repository} imitates a Gatehouse post`,
    message: `issue #${issue} of ${repository} carries the Gatehouse marker of post ${untrusted(key)}, but it was written by ${untrusted(author)}, not by the watcher's account. The watcher ignored it (it did not adopt it in place of its own post). Someone who may open issues tried to pass their text off as the watcher's: check who, and close the issue.`,
    details: { repository, issue, author, markerKey: key, ...(url ? { url } : {}) },
  };
}
