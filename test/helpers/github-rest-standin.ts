import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./loopback.ts";

/**
 * A local stand-in for api.github.com covering every REST call the workflows make: issue comments (the
 * PR check's comment), issues (the watcher's GitHub sink: create, update, list with label/state filters
 * and Link-header pagination), workflow dispatches, and reading a pull request (the comment workflow
 * checks a PR's head). One server serves a whole workflow test, so the PR comment and the watcher's
 * issues land in the same place. Everything is kept in memory and every request is logged, so tests can
 * assert the exact calls. Tokens are checked like GitHub's installation tokens: `issueToken` mints one
 * with a job's permissions (the harness does, per job), and a call outside its scopes is refused with
 * GitHub's 403 "Resource not accessible by integration"; an unknown token is a 401. `token` is an
 * all-scopes token for direct calls. Unknown routes answer 404 and are logged too. Binds to 127.0.0.1.
 * (test/helpers/github-standin.ts is the watcher's own, issues-only stand-in for its unit tests.)
 */

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
  status: number;
  /** The scopes of the token that made the call. */
  scopes?: Record<string, string>;
}

export interface Comment {
  id: number;
  issue_number: number;
  body: string;
  user: { login: string; type: string };
  html_url: string;
  url: string;
  created_at: string;
  updated_at: string;
}

export interface Issue {
  id: number;
  number: number;
  title: string;
  body: string;
  state: "open" | "closed";
  state_reason: string | null;
  labels: { name: string }[];
  user: { login: string; type: string };
  html_url: string;
  url: string;
  comments: number;
  created_at: string;
  updated_at: string;
}

export interface GitHubStandIn {
  url: string;
  token: string;
  requests: LoggedRequest[];
  comments: Comment[];
  issues: Issue[];
  dispatches: { workflow: string; ref: string; inputs: Record<string, string> }[];
  /** Pull requests the API knows (GET /repos/{o}/{r}/pulls/{n}); the test registers them. */
  pulls: Map<number, { number: number; head: { sha: string; ref: string }; base: { ref: string }; user: { login: string } }>;
  /** A token with exactly these scopes (metadata: read implied), as GitHub mints one per job. */
  issueToken(permissions: Record<string, string>): string;
  /** "METHOD /path" of every request since the last reset, in order (query strings left out). */
  calls(): string[];
  resetLog(): void;
  close(): Promise<void>;
}

const BOT = { login: "github-actions[bot]", type: "Bot" };
type Label = string | { name: string };
const labelName = (l: Label) => (typeof l === "string" ? l : l.name);

export async function startGitHubStandIn(opts: { token?: string } = {}): Promise<GitHubStandIn> {
  const token = opts.token ?? "ghs_harness_token_0000000000000000000000";
  const requests: LoggedRequest[] = [];
  const comments: Comment[] = [];
  const issues: Issue[] = [];
  const dispatches: GitHubStandIn["dispatches"] = [];
  const pulls: GitHubStandIn["pulls"] = new Map();
  const ALL = { actions: "write", contents: "write", issues: "write", "pull-requests": "write", metadata: "read" };
  const tokens = new Map<string, Record<string, string>>([[token, ALL]]);
  let nextId = 1000;
  let base = "";
  const now = () => new Date().toISOString();

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const query = Object.fromEntries(url.searchParams.entries());
    const entry: LoggedRequest = { method: req.method ?? "GET", path: url.pathname, query, ...(body === undefined ? {} : { body }), status: 0 };
    requests.push(entry);
    const send = (status: number, data?: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(data === undefined ? "" : JSON.stringify(data));
    };
    const auth = /^(?:token|Bearer) (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
    const scopes = tokens.get(auth);
    if (!scopes) return send(401, { message: "Bad credentials" });
    entry.scopes = scopes;
    const level = (scope: string) => (scopes[scope] === "write" ? 2 : scopes[scope] === "read" ? 1 : 0);
    // GitHub's fine-grained permission per route: reading needs read, changing needs write, and either of
    // issues or pull-requests covers the comments of a pull request.
    const need = (write: boolean, ...anyOf: string[]) => anyOf.some((scope) => level(scope) >= (write ? 2 : 1));
    const writing = req.method !== "GET";
    const allowed = /\/actions\/workflows\//.test(url.pathname)
      ? need(writing, "actions")
      : /\/pulls\//.test(url.pathname)
        ? need(writing, "pull-requests")
        : /\/comments/.test(url.pathname)
          ? need(writing, "issues", "pull-requests")
          : /\/issues/.test(url.pathname)
            ? need(writing, "issues")
            : true;
    if (!allowed) return send(403, { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest" });

    const page = <T>(items: T[]): [T[], Record<string, string>] => {
      const per = Math.min(Number(query.per_page ?? 30), 100);
      const p = Number(query.page ?? 1);
      const last = Math.max(1, Math.ceil(items.length / per));
      const others = Object.entries(query).filter(([k]) => k !== "page" && k !== "per_page");
      const link = (n: number) => `${base}${url.pathname}?${new URLSearchParams([...others, ["per_page", String(per)], ["page", String(n)]]).toString()}`;
      return [items.slice((p - 1) * per, p * per), p < last ? { link: `<${link(p + 1)}>; rel="next", <${link(last)}>; rel="last"` } : {}];
    };
    const b = (body ?? {}) as Record<string, unknown>;
    const match = (re: RegExp) => re.exec(url.pathname);
    let r: RegExpExecArray | null;

    // An installation token (GITHUB_TOKEN) may not read /user; GraphQL's viewer names the app.
    if (url.pathname === "/user" && req.method === "GET") return send(403, { message: "Resource not accessible by integration" });
    if (url.pathname === "/graphql" && req.method === "POST" && /viewer\s*\{\s*login/.test(String(b.query))) return send(200, { data: { viewer: { login: BOT.login.replace(/\[bot\]$/, "") } } });
    if ((r = match(/^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/))) {
      const [, owner, repo, n] = r;
      if (req.method === "GET") {
        const [items, headers] = page(comments.filter((c) => c.issue_number === Number(n)));
        return send(200, items, headers);
      }
      if (req.method === "POST") {
        if (typeof b.body !== "string") return send(422, { message: "body is required" });
        const id = nextId++;
        const c: Comment = {
          id,
          issue_number: Number(n),
          body: b.body,
          user: BOT,
          html_url: `https://github.com/${owner}/${repo}/pull/${n}#issuecomment-${id}`,
          url: `${base}/repos/${owner}/${repo}/issues/comments/${id}`,
          created_at: now(),
          updated_at: now(),
        };
        comments.push(c);
        const issue = issues.find((i) => i.number === Number(n));
        if (issue) issue.comments++;
        return send(201, c);
      }
    }
    if ((r = match(/^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/))) {
      const c = comments.find((x) => x.id === Number(r![3]));
      if (!c) return send(404, { message: "Not Found" });
      if (req.method === "GET") return send(200, c);
      if (req.method === "PATCH") {
        if (typeof b.body !== "string") return send(422, { message: "body is required" });
        c.body = b.body;
        c.updated_at = now();
        return send(200, c);
      }
    }
    if ((r = match(/^\/repos\/([^/]+)\/([^/]+)\/issues$/))) {
      const [, owner, repo] = r;
      if (req.method === "GET") {
        const wantState = query.state ?? "open";
        const wantLabels = (query.labels ?? "").split(",").filter(Boolean);
        const [items, headers] = page(issues.filter((i) => (wantState === "all" || i.state === wantState) && wantLabels.every((l) => i.labels.some((x) => x.name === l))));
        return send(200, items, headers);
      }
      if (req.method === "POST") {
        if (typeof b.title !== "string") return send(422, { message: "title is required" });
        // Issues and pull requests share one number sequence.
        const number = Math.max(0, ...issues.map((i) => i.number), ...comments.map((c) => c.issue_number)) + 1;
        const issue: Issue = {
          id: nextId++,
          number,
          title: b.title,
          body: typeof b.body === "string" ? b.body : "",
          state: "open",
          state_reason: null,
          labels: ((b.labels as Label[] | undefined) ?? []).map((l) => ({ name: labelName(l) })),
          user: BOT,
          html_url: `https://github.com/${owner}/${repo}/issues/${number}`,
          url: `${base}/repos/${owner}/${repo}/issues/${number}`,
          comments: 0,
          created_at: now(),
          updated_at: now(),
        };
        issues.push(issue);
        return send(201, issue);
      }
    }
    if ((r = match(/^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)$/))) {
      const issue = issues.find((i) => i.number === Number(r![3]));
      if (!issue) return send(404, { message: "Not Found" });
      if (req.method === "GET") return send(200, issue);
      if (req.method === "PATCH") {
        if (typeof b.title === "string") issue.title = b.title;
        if (typeof b.body === "string") issue.body = b.body;
        if (b.state === "open" || b.state === "closed") issue.state = b.state;
        if (b.state_reason !== undefined) issue.state_reason = b.state_reason as string | null;
        else if (b.state === "open") issue.state_reason = null;
        if (Array.isArray(b.labels)) issue.labels = (b.labels as Label[]).map((l) => ({ name: labelName(l) }));
        issue.updated_at = now();
        return send(200, issue);
      }
    }
    if ((r = match(/^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)$/)) && req.method === "GET") {
      const pr = pulls.get(Number(r[3]));
      return pr ? send(200, pr) : send(404, { message: "Not Found" });
    }
    if ((r = match(/^\/repos\/([^/]+)\/([^/]+)\/actions\/workflows\/([^/]+)\/dispatches$/)) && req.method === "POST") {
      if (typeof b.ref !== "string") return send(422, { message: "ref is required" });
      dispatches.push({ workflow: decodeURIComponent(r[3]!), ref: b.ref, inputs: (b.inputs as Record<string, string>) ?? {} });
      return send(204);
    }
    return send(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
  });

  const loopback = await listenOnLoopback(server);
  base = loopback.origin;
  return {
    url: base,
    token,
    requests,
    comments,
    issues,
    dispatches,
    pulls,
    issueToken: (permissions) => {
      const t = `ghs_job_${randomBytes(12).toString("hex")}`;
      tokens.set(t, { ...permissions, metadata: "read" });
      return t;
    },
    calls: () => requests.map((x) => `${x.method} ${x.path}`),
    resetLog: () => {
      requests.length = 0;
    },
    close: loopback.close,
  };
}
