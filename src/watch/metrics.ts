import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * Prometheus metrics of the watcher (prom-client, its own registry) and the loopback HTTP server that
 * serves them (`/metrics`) with a health endpoint (`/healthz`) in `--follow` mode.
 */
export interface WatchMetrics {
  registry: Registry;
  lastProcessedBlock: Gauge;
  headBlock: Gauge;
  headLag: Gauge;
  pendingOperations: Gauge;
  secondsToNextEta: Gauge;
  alerts: Counter<"kind">;
  openAlerts: Gauge<"kind">;
  rpcErrors: Counter<"method" | "failure">;
  rangeRefusals: Counter;
  rangeSize: Gauge;
  reorgs: Counter;
  posts: Counter<"sink" | "state">;
  sinkErrors: Counter<"sink">;
  stepErrors: Counter;
  stepSeconds: Histogram;
  lastSuccess: Gauge;
  starting: Gauge;
  startupFailures: Counter;
  simulations: Counter<"phase" | "outcome">;
  simulationSeconds: Histogram;
  simulationsPending: Gauge;
}

export function createWatchMetrics(): WatchMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    lastProcessedBlock: new Gauge({ name: "gatehouse_watch_last_processed_block", help: "Last block indexed and stored (the checkpoint)", registers }),
    headBlock: new Gauge({ name: "gatehouse_watch_head_block", help: "Chain head seen by the watcher", registers }),
    headLag: new Gauge({ name: "gatehouse_watch_head_lag_blocks", help: "Blocks between the head and the last processed block", registers }),
    pendingOperations: new Gauge({ name: "gatehouse_watch_pending_operations", help: "Scheduled timelock operations not yet executed or cancelled", registers }),
    secondsToNextEta: new Gauge({ name: "gatehouse_watch_seconds_to_next_eta", help: "Chain-time seconds until the nearest ETA of a pending operation (-1: none pending)", registers }),
    alerts: new Counter({ name: "gatehouse_watch_alerts_total", help: "Alerts raised, by kind", labelNames: ["kind"], registers }),
    openAlerts: new Gauge({ name: "gatehouse_watch_open_alerts", help: "Alerts currently on the canonical chain, by kind", labelNames: ["kind"], registers }),
    rpcErrors: new Counter({ name: "gatehouse_watch_rpc_errors_total", help: "Failed JSON-RPC attempts (each retried or surfaced), by method and failure class", labelNames: ["method", "failure"], registers }),
    rangeRefusals: new Counter({ name: "gatehouse_watch_range_refusals_total", help: "eth_getLogs ranges the node refused (the range was halved)", registers }),
    rangeSize: new Gauge({ name: "gatehouse_watch_range_size_blocks", help: "Current eth_getLogs range size", registers }),
    reorgs: new Counter({ name: "gatehouse_watch_reorgs_total", help: "Reorgs detected below the checkpoint", registers }),
    posts: new Counter({ name: "gatehouse_watch_posts_total", help: "Posts written to sinks (created or edited), by sink and state", labelNames: ["sink", "state"], registers }),
    sinkErrors: new Counter({ name: "gatehouse_watch_sink_errors_total", help: "Failed posts (retried on the next step), by sink", labelNames: ["sink"], registers }),
    stepErrors: new Counter({ name: "gatehouse_watch_step_errors_total", help: "Watch steps that failed and will be retried", registers }),
    stepSeconds: new Histogram({ name: "gatehouse_watch_step_seconds", help: "Duration of one watch step", buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    lastSuccess: new Gauge({ name: "gatehouse_watch_last_success_timestamp_seconds", help: "Unix time of the last successful step", registers }),
    starting: new Gauge({ name: "gatehouse_watch_starting", help: "1 while the watcher retries its start-up (connecting, reading the chain id and the timelock's code)", registers }),
    startupFailures: new Counter({ name: "gatehouse_watch_startup_failures_total", help: "Failed start-up attempts (each retried with backoff in --follow)", registers }),
    simulations: new Counter({ name: "gatehouse_watch_simulations_total", help: "Re-simulations of pending operations, by phase (scheduled, near-eta) and outcome (ok, alert, not-simulated)", labelNames: ["phase", "outcome"], registers }),
    simulationSeconds: new Histogram({ name: "gatehouse_watch_simulation_seconds", help: "Duration of one re-simulation (fork, path, diff, probes)", buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120], registers }),
    simulationsPending: new Gauge({ name: "gatehouse_watch_simulations_pending", help: "Re-simulations queued or running", registers }),
  };
}

export interface Health {
  ok: boolean;
  [k: string]: unknown;
}

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serve /metrics and /healthz; binds to 127.0.0.1 unless told otherwise. */
export async function startMetricsServer(input: { metrics: WatchMetrics; health: () => Health; port?: number; host?: string }): Promise<MetricsServer> {
  const host = input.host ?? "127.0.0.1";
  const server: Server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method !== "GET") {
        res.writeHead(405, { allow: "GET" }).end();
      } else if (url.pathname === "/metrics") {
        const body = await input.metrics.registry.metrics();
        res.writeHead(200, { "content-type": input.metrics.registry.contentType }).end(body);
      } else if (url.pathname === "/healthz") {
        const h = input.health();
        res.writeHead(h.ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(h));
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics or /healthz\n");
      }
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" }).end(`${(e as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(input.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
