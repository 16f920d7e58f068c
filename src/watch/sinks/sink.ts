import type { PostState } from "../decide.ts";

/**
 * What every sink receives: one post (an operation's review or an alert) in its current state, rendered
 * as Markdown, a one-line summary and JSON. Sinks are thin adapters; the ledger decides what to send.
 * `title`, `summary` and `markdown` are tagged text (src/review/untrusted.ts): each sink renders them with
 * `renderText(text, <its context>)`, which escapes the untrusted spans for its syntax; `json` is data,
 * sent or stored with `untagData`.
 */
export interface SinkPost {
  key: string;
  network: string;
  operationId?: string;
  severity: "review" | "alert";
  state: PostState;
  /** What the sink showed before (undefined for a new post). Equal to `state` for a correction. */
  previousState?: string;
  title: string;
  summary: string;
  markdown: string;
  json: Record<string, unknown>;
  contentHash: string;
}

export interface FoundPost {
  remoteId: string;
  contentHash?: string;
  state?: string;
}

export interface Sink {
  /** Ledger name of the sink; never contains a secret (no token, no webhook URL). */
  readonly id: string;
  /** Create the post, or bring the existing one (`remoteId`) to this state. Returns the remote id. */
  publish(post: SinkPost, remote: { remoteId?: string }): Promise<{ remoteId?: string }>;
  /**
   * Look a post up in the sink by its key (the operation id is part of it), for when the ledger cannot
   * tell whether an earlier attempt reached the sink. Sinks that cannot be read (webhooks) omit it.
   */
  find?(key: string): Promise<FoundPost | undefined>;
  /** Called once at the end of a watch step in which something was published (e.g. to rewrite an index). */
  flush?(): Promise<void>;
  /**
   * Something the sink saw that a person must look at, found since the last call (e.g. a Gatehouse marker
   * in an issue the bot did not write). The watcher posts each as an alert to every sink, once.
   */
  takeAlerts?(): SinkAlert[];
}

export interface SinkAlert {
  /** Stable post key, `alert:sink:…`, so a restart posts it once. */
  key: string;
  kind: "planted-marker";
  /** Tagged text (untrusted parts marked). */
  title: string;
  message: string;
  details: Record<string, unknown>;
}

/** The marker every Gatehouse post carries, so a post can be found again by its key. */
export function marker(post: Pick<SinkPost, "key" | "state" | "contentHash">): string {
  return `<!-- gatehouse:key=${post.key} state=${post.state} hash=${post.contentHash} -->`;
}

export function parseMarker(text: string | null | undefined): { key: string; state: string; contentHash: string } | undefined {
  const m = /<!-- gatehouse:key=(\S+) state=(\S+) hash=(\S+) -->/.exec(text ?? "");
  return m ? { key: m[1]!, state: m[2]!, contentHash: m[3]! } : undefined;
}

/** A file-name-safe, stable name for a post key: op-<id>-<first 8 of the scheduling tx>, alert-<tx>-<n>. */
export function fileKey(key: string): string {
  const [kind, a, b] = key.split(":");
  if (kind === "op") return `op-${a}-${(b ?? "").slice(2, 10)}`;
  return `${kind}-${a}-${b}`;
}

export function stateVerb(post: Pick<SinkPost, "state" | "previousState">): string {
  if (post.previousState !== undefined && post.previousState === post.state) return "Corrected";
  if (post.previousState === "retracted") return "Reinstated";
  switch (post.state) {
    case "scheduled":
      return post.previousState ? "Corrected (back to queued)" : "Queued";
    case "executed":
      return "Executed";
    case "cancelled":
      return "Cancelled";
    case "retracted":
      return "Retracted";
    case "resolved":
      return "Resolved";
    default:
      return "Alert";
  }
}
