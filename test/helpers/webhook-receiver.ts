import { createServer, type Server } from "node:http";
import { listenOnLoopback } from "./loopback.ts";

/** A loopback webhook endpoint that records every delivery (body and idempotency key). */
export interface Delivery {
  idempotencyKey: string;
  gatehouseKey: string;
  body: Record<string, unknown>;
}

export interface WebhookReceiver {
  url: string;
  deliveries: Delivery[];
  failNext(n: number, status: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  let failures = { n: 0, status: 500 };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (failures.n > 0) {
      failures.n--;
      return res.writeHead(failures.status, failures.status === 429 ? { "retry-after": "0" } : {}).end("try again");
    }
    deliveries.push({
      idempotencyKey: String(req.headers["idempotency-key"] ?? ""),
      gatehouseKey: String(req.headers["x-gatehouse-key"] ?? ""),
      body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
    });
    res.writeHead(200).end("ok");
  });
  const loopback = await listenOnLoopback(server);
  return {
    url: `${loopback.origin}/hooks/gatehouse`,
    deliveries,
    failNext: (n, status) => {
      failures = { n, status };
    },
    close: loopback.close,
  };
}
