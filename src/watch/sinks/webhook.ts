import { createHash } from "node:crypto";
import { sleep } from "../rpc.ts";
import { stateVerb, type Sink, type SinkPost } from "./sink.ts";

/**
 * A generic webhook: one message per state change of a post (queued, executed, cancelled, retracted,
 * corrected), as a Slack incoming-webhook payload, a Discord webhook payload, or Gatehouse JSON.
 * Webhooks cannot be read back, so after a crash between sending and recording a message is sent again
 * with the same `Idempotency-Key` header (receivers that honour it drop the duplicate).
 */
export type WebhookFormat = "slack" | "discord" | "json";

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

export function webhookPayload(post: SinkPost, format: WebhookFormat): Record<string, unknown> {
  const verb = stateVerb(post);
  const icon = post.severity === "alert" ? "🚨" : post.state === "executed" ? "✅" : post.state === "scheduled" ? "⏳" : "🛑";
  const headline = `${icon} ${verb}: ${post.title}`;
  if (format === "slack") {
    return {
      text: clip(`${headline}\n${post.summary}`, 3000),
      blocks: [
        { type: "header", text: { type: "plain_text", text: clip(`${verb}: ${post.title}`, 150), emoji: true } },
        { type: "section", text: { type: "mrkdwn", text: clip(post.summary, 3000) } },
        { type: "context", elements: [{ type: "mrkdwn", text: clip(`gatehouse · ${post.network} · \`${post.key}\``, 300) }] },
      ],
    };
  }
  if (format === "discord") {
    const color = post.severity === "alert" ? 0xe01e5a : post.state === "executed" ? 0x2eb67d : post.state === "scheduled" ? 0xecb22e : 0x6b7280;
    return {
      content: clip(headline, 2000),
      embeds: [{ title: clip(post.title, 256), description: clip(post.summary, 4096), color, footer: { text: clip(`gatehouse · ${post.network} · ${post.key}`, 2048) } }],
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
    title: post.title,
    summary: post.summary,
    markdown: post.markdown,
    contentHash: post.contentHash,
    data: post.json,
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
          if (attempt >= attempts) throw new Error(`webhook ${opts.id}: ${(e as Error).message}`, { cause: e });
        }
        if (attempt >= attempts) throw new Error(`webhook ${opts.id}: HTTP ${status} after ${attempts} attempts`);
        await sleep(Math.max(retryAfter * 1000, base * 2 ** (attempt - 1)));
      }
    },
  };
}
