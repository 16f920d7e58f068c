import { createHash } from "node:crypto";
import { renderText, untagData } from "../../review/untrusted.ts";
import { sleep } from "../rpc.ts";
import { stateVerb, type Sink, type SinkPost } from "./sink.ts";

/**
 * A generic webhook: one message per state change of a post (queued, executed, cancelled, retracted,
 * corrected), as a Slack incoming-webhook payload, a Discord webhook payload, or Gatehouse JSON.
 * Webhooks cannot be read back, so after a crash between sending and recording a message is sent again
 * with the same `Idempotency-Key` header (receivers that honour it drop the duplicate).
 * Untrusted text is escaped per format (src/review/untrusted.ts): Slack mrkdwn entities and no
 * `@channel`/`<!channel>`, Discord Markdown with `allowed_mentions` empty (nobody is pinged whatever the
 * text), and in the JSON format `title`/`summary` as plain text and `markdown` as GitHub Markdown; its
 * `data` is the review as data, to be escaped by whoever shows it.
 */
export type WebhookFormat = "slack" | "discord" | "json";

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

export function webhookPayload(post: SinkPost, format: WebhookFormat): Record<string, unknown> {
  const verb = stateVerb(post);
  const icon = post.state === "resolved" ? "✅" : post.severity === "alert" ? "🚨" : post.state === "executed" ? "✅" : post.state === "scheduled" ? "⏳" : "🛑";
  if (format === "slack") {
    const title = renderText(post.title, "slack");
    const summary = renderText(post.summary, "slack");
    return {
      text: clip(`${icon} ${verb}: ${title}\n${summary}`, 3000),
      blocks: [
        // Slack asks for &, <, > as entities in every text field, plain_text included.
        { type: "header", text: { type: "plain_text", text: clip(`${verb}: ${title}`, 150), emoji: true } },
        { type: "section", text: { type: "mrkdwn", text: clip(summary, 3000) } },
        { type: "context", elements: [{ type: "mrkdwn", text: clip(`gatehouse · ${post.network} · \`${post.key}\``, 300) }] },
      ],
    };
  }
  if (format === "discord") {
    const title = renderText(post.title, "discord");
    const headline = `${icon} ${verb}: ${title}`;
    const color = post.state === "resolved" ? 0x2eb67d : post.severity === "alert" ? 0xe01e5a : post.state === "executed" ? 0x2eb67d : post.state === "scheduled" ? 0xecb22e : 0x6b7280;
    return {
      content: clip(headline, 2000),
      embeds: [{ title: clip(title, 256), description: clip(renderText(post.summary, "discord"), 4096), color, footer: { text: clip(`gatehouse · ${post.network} · ${post.key}`, 2048) } }],
      allowed_mentions: { parse: [] },
    };
  }
  return {
    source: "gatehouse",
    version: 1,
    key: post.key,
    network: post.network,
    operationId: post.operationId ?? null,
    state: post.state,
    previousState: post.previousState ?? null,
    verb,
    severity: post.severity,
    title: renderText(post.title, "plain"),
    summary: renderText(post.summary, "plain"),
    markdown: renderText(post.markdown, "markdown"),
    contentHash: post.contentHash,
    data: untagData(post.json),
  };
}

export function idempotencyKey(post: Pick<SinkPost, "key" | "state" | "contentHash">): string {
  return createHash("sha256").update(`${post.key}|${post.state}|${post.contentHash}`).digest("hex").slice(0, 32);
}

export function webhookSink(opts: {
  /** Ledger name, e.g. `webhook:SLACK_WEBHOOK_URL` (the env var's name, never the URL). */
  id: string;
  url: string;
  format: WebhookFormat;
  attempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
}): Sink {
  const attempts = opts.attempts ?? 5;
  const base = opts.baseDelayMs ?? 500;
  return {
    id: opts.id,
    async publish(post) {
      const body = JSON.stringify(webhookPayload(post, opts.format));
      const key = idempotencyKey(post);
      for (let attempt = 1; ; attempt++) {
        let status = 0;
        let retryAfter = 0;
        try {
          const res = await fetch(opts.url, {
            method: "POST",
            headers: { "content-type": "application/json", "idempotency-key": key, "x-gatehouse-key": post.key },
            body,
            signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
          });
          status = res.status;
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) return { remoteId: key };
          retryAfter = Number(res.headers.get("retry-after")) || 0;
          if (status < 500 && status !== 429) throw new Error(`webhook ${opts.id}: HTTP ${status} (not retried)`);
        } catch (e) {
          if (status !== 0 && status < 500 && status !== 429) throw e;
          // fetch's messages can carry the URL, which holds the webhook's credential: never pass it on.
          if (attempt >= attempts) throw new Error(`webhook ${opts.id}: ${(e as Error).message.split(opts.url).join("<the webhook URL>")}`);
        }
        if (attempt >= attempts) throw new Error(`webhook ${opts.id}: HTTP ${status} after ${attempts} attempts`);
        await sleep(Math.max(retryAfter * 1000, base * 2 ** (attempt - 1)));
      }
    },
  };
}
