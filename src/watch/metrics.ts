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
  // State-aware monitors (src/watch/monitors.ts), labelled by the policy's contract and monitor names.
  monitorValue: Gauge<"contract" | "monitor">;
  monitorBreached: Gauge<"contract" | "monitor">;
  monitorBreaches: Counter<"contract" | "monitor">;
  monitorEvaluations: Counter;
  monitorErrors: Counter;
  monitorLastBlock: Gauge;
  // Chain health, labelled by the RPC's origin (scheme, host, port: never a path or query, which may hold a key).
  headAge: Gauge<"rpc">;
  rpcHeadBlock: Gauge<"rpc">;
  blockInterval: Gauge;
  reorgDepthMax: Gauge;
  rpcSeconds: Histogram<"method" | "rpc">;
  rpcUp: Gauge<"rpc">;
  rpcActive: Gauge<"rpc">;
  rpcFailovers: Counter<"from" | "to">;
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
    monitorValue: new Gauge({ name: "gatehouse_monitor_value", help: "Last value read by each policy monitor (view result, bool as 0/1, or events in its window)", labelNames: ["contract", "monitor"], registers }),
    monitorBreached: new Gauge({ name: "gatehouse_monitor_breached", help: "1 while a policy monitor is in breach (opened once, resolved after resolveAfter good evaluations)", labelNames: ["contract", "monitor"], registers }),
    monitorBreaches: new Counter({ name: "gatehouse_monitor_breaches_total", help: "Monitor breaches opened (each posted once to every sink)", labelNames: ["contract", "monitor"], registers }),
    monitorEvaluations: new Counter({ name: "gatehouse_monitor_evaluations_total", help: "Monitor evaluations (one Multicall3 read each)", registers }),
    monitorErrors: new Counter({ name: "gatehouse_monitor_errors_total", help: "Monitor evaluations that could not read the chain (retried at the next step)", registers }),
    monitorLastBlock: new Gauge({ name: "gatehouse_monitor_last_evaluated_block", help: "Block of the last monitor evaluation", registers }),
    headAge: new Gauge({ name: "gatehouse_chain_head_age_seconds", help: "Wall-clock seconds since the timestamp of the head block, by RPC", labelNames: ["rpc"], registers }),
    rpcHeadBlock: new Gauge({ name: "gatehouse_rpc_head_block", help: "Head block number each configured RPC reports", labelNames: ["rpc"], registers }),
    blockInterval: new Gauge({ name: "gatehouse_chain_block_interval_seconds", help: "Mean seconds between blocks since the previous step's head", registers }),
    reorgDepthMax: new Gauge({ name: "gatehouse_chain_reorg_depth_max_blocks", help: "Deepest reorg seen below the checkpoint since the watcher started", registers }),
    rpcSeconds: new Histogram({ name: "gatehouse_rpc_request_seconds", help: "JSON-RPC request latency, by method and RPC", labelNames: ["method", "rpc"], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    rpcUp: new Gauge({ name: "gatehouse_rpc_up", help: "1 when the RPC answered its last request (0: transport failure)", labelNames: ["rpc"], registers }),
    rpcActive: new Gauge({ name: "gatehouse_rpc_active", help: "1 for the RPC the watcher currently uses (failover moves it)", labelNames: ["rpc"], registers }),
    rpcFailovers: new Counter({ name: "gatehouse_rpc_failovers_total", help: "Requests moved to the next RPC after a transport failure", labelNames: ["from", "to"], registers }),
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
