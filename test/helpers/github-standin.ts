import { createServer, type IncomingMessage, type Server } from "node:http";
import { listenOnLoopback } from "./loopback.ts";

/**
 * A local stand-in for the GitHub REST API (issues only), because api.github.com cannot be reached from
 * the test machine. It implements the three endpoints the GitHub sink uses, the way GitHub does
 * (create, update, list with label/state filters and pagination), and records every request so tests can
 * assert the exact REST calls. It also checks the token the sink sends.
 */
export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: Record<string, unknown>;
  authorization?: string;
}

export interface StandinIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  state: "open" | "closed";
  state_reason: string | null;
  /** Who wrote the issue: the token's account unless planted by a test. */
  author?: string;
}

export interface GithubStandin {
  baseUrl: string;
  calls: RecordedCall[];
  issues: StandinIssue[];
  /** REST calls that change something (POST/PATCH), as "METHOD path". */
  writes(): string[];
  /** The login of the token's account (GET /user). */
  login: string;
  /** Make the next `n` requests fail with this status (e.g. 502) to exercise retries. */
  failNext(n: number, status: number): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startGithubStandin(opts: { owner: string; repo: string; token: string; login?: string }): Promise<GithubStandin> {
  const login = opts.login ?? "gatehouse-bot";
  const calls: RecordedCall[] = [];
  const issues: StandinIssue[] = [];
  let failures: { n: number; status: number } = { n: 0, status: 500 };
  const prefix = `/repos/${opts.owner}/${opts.repo}/issues`;
  const view = (i: StandinIssue) => ({
    id: 1000 + i.number,
    number: i.number,
    title: i.title,
    body: i.body,
    state: i.state,
    state_reason: i.state_reason,
    labels: i.labels.map((name) => ({ name })),
    user: { login: i.author ?? login, type: "User" },
    html_url: `https://github.com/${opts.owner}/${opts.repo}/issues/${i.number}`,
  });
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const text = await readBody(req);
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    calls.push({ method: req.method!, path: url.pathname, query: Object.fromEntries(url.searchParams), ...(body ? { body } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const send = (status: number, value: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (failures.n > 0) {
      failures.n--;
      return send(failures.status, { message: "stand-in failure" });
    }
    if (req.headers.authorization !== `token ${opts.token}`) return send(401, { message: "Bad credentials" });
    if (req.method === "GET" && url.pathname === "/user") return send(200, { login, type: "User" });
    if (req.method === "POST" && url.pathname === prefix) {
      const issue: StandinIssue = { number: issues.length + 1, title: String(body!.title), body: String(body!.body ?? ""), labels: (body!.labels as string[]) ?? [], state: "open", state_reason: null };
      issues.push(issue);
      return send(201, view(issue));
    }
    const m = new RegExp(`^${prefix}/(\\d+)$`).exec(url.pathname);
    if (req.method === "PATCH" && m) {
      const issue = issues.find((i) => i.number === Number(m[1]));
      if (!issue) return send(404, { message: "Not Found" });
      if (body!.title !== undefined) issue.title = String(body!.title);
      if (body!.body !== undefined) issue.body = String(body!.body);
      if (body!.labels !== undefined) issue.labels = body!.labels as string[];
      if (body!.state !== undefined) issue.state = body!.state as "open" | "closed";
      if (body!.state_reason !== undefined) issue.state_reason = body!.state_reason as string;
      else if (body!.state === "open") issue.state_reason = null;
      return send(200, view(issue));
    }
    if (req.method === "GET" && url.pathname === prefix) {
      const labels = (url.searchParams.get("labels") ?? "").split(",").filter(Boolean);
      const state = url.searchParams.get("state") ?? "open";
      const perPage = Number(url.searchParams.get("per_page") ?? 30);
      const page = Number(url.searchParams.get("page") ?? 1);
      const matching = issues.filter((i) => (state === "all" || i.state === state) && labels.every((l) => i.labels.includes(l)));
      return send(200, matching.slice((page - 1) * perPage, page * perPage).map(view));
    }
    return send(404, { message: `stand-in: no route for ${req.method} ${url.pathname}` });
  });
  const loopback = await listenOnLoopback(server);
  return {
    baseUrl: loopback.origin,
    calls,
    issues,
    login,
    writes: () => calls.filter((c) => c.method !== "GET").map((c) => `${c.method} ${c.path}`),
    failNext: (n, status) => {
      failures = { n, status };
    },
    close: loopback.close,
  };
}
