import path from "node:path";
import { GatehouseError } from "../../errors.ts";
import { createWatchMetrics, startMetricsServer, type Health } from "../../watch/metrics.ts";
import { watcherOptions } from "../../watch/setup.ts";
import { filesSink } from "../../watch/sinks/files.ts";
import { sinksFromPolicy } from "../../watch/sinks/config.ts";
import { follow, runOnce, startWithRetry, type StepResult } from "../../watch/watcher.ts";
import { withSetup } from "../chain.ts";
import { buildSite } from "../../site/build.ts";
import { repositoryUrl } from "./site.ts";
import type { Command } from "../main.ts";

const usage = "watch [--once | --follow] [--db FILE] [--from-block N] [--max-range N] [--interval MS] [--metrics-port N] [--site DIR]";

function intFlag(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d+$/.test(value)) throw new GatehouseError("USAGE", { message: `--${name} '${String(value)}': expected a non-negative integer (usage: gatehouse ${usage})` });
  return Number(value);
}

const command: Command = {
  summary: "post every queued operation for review with its cancel path, and alert on governance changes (--once for a scheduled job, --follow as a service)",
  usage,
  options: {
    once: { type: "boolean" },
    follow: { type: "boolean" },
    db: { type: "string" },
    "from-block": { type: "string" },
    "max-range": { type: "string" },
    interval: { type: "string" },
    "metrics-port": { type: "string" },
    site: { type: "string" },
  },
  flags: { once: { help: "process the confirmed blocks once and exit (a scheduled job)", default: "on unless --follow" }, follow: { help: "run as a service, polling every --interval", default: "off" }, db: { value: "FILE", help: "the watcher's ledger (SQLite)", default: ".gatehouse/watch-<network>.sqlite" }, "from-block": { value: "N", help: "first block to read on a fresh ledger", default: "the timelock's creation block" }, "max-range": { value: "N", help: "most blocks per log query", default: "2000" }, interval: { value: "MS", help: "poll interval in --follow mode", default: "2000" }, "metrics-port": { value: "N", help: "Prometheus metrics and /health port in --follow mode", default: "9464" }, site: { value: "DIR", help: "rebuild the community review site in DIR after each step (only the pages whose operation changed)", default: "no site" } },
  run: async (c) => {
    if (c.flags.once && c.flags.follow) throw new GatehouseError("USAGE", { message: `--once and --follow exclude each other (usage: gatehouse ${usage})` });
    const fromBlock = intFlag(c.flags["from-block"], "from-block");
    const maxRange = intFlag(c.flags["max-range"], "max-range");
    const interval = intFlag(c.flags.interval, "interval");
    const metricsPort = intFlag(c.flags["metrics-port"], "metrics-port");
    if (maxRange === 0) throw new GatehouseError("USAGE", { message: "--max-range: at least 1 block" });
    const log = (line: string) => c.out.log(line);
    const siteDir = c.flags.site as string | undefined;
    /** The site is a view of the ledger: a failure to write it is logged, never a reason to stop watching. */
    let siteBuilt = false;
    function buildSiteAfterStep(db: string, out: string): void {
      try {
        const r = buildSite({ ledger: db, root: c.root, network: c.network, out, ...(repository ? { repository } : {}) });
        siteBuilt = true;
        if (r.written > 0) log(`site: ${r.written} file(s) written to ${out}`);
      } catch (e) {
        log(`site: could not write ${out}: ${(e as Error).message}`);
      }
    }
    const repository = siteDir ? repositoryUrl(undefined) : undefined;
    const metrics = createWatchMetrics();
    // --follow serves /healthz and /metrics from the start, so a start-up that keeps failing is visible.
    let startup: { attempts: number; lastError?: string } = { attempts: 0 };
    let health: () => Health = () => ({ ok: false, starting: true, startupAttempts: startup.attempts, ...(startup.lastError ? { lastError: startup.lastError } : {}) });
    const server = c.flags.follow ? await startMetricsServer({ metrics, health: () => health(), port: metricsPort ?? 9464 }) : undefined;
    if (server) log(`metrics on ${server.url}/metrics, health on ${server.url}/healthz`);
    const controller = new AbortController();
    const stop = () => controller.abort();
    let started = false;
    try {
      return await startWithRetry(() => withSetup(c, async (setup) => {
        started = true;
        metrics.starting.set(0);
        return run(setup);
      }), {
        // Configuration errors (exit 2) end it now; so does anything after the start-up (the loop retries its own steps).
        fatal: (e) => started || (e instanceof GatehouseError && e.exitCode === 2),
        ...(c.flags.follow ? { signal: controller.signal } : { attempts: 4, baseDelayMs: 500 }),
        onFailure: (e, attempt, wait) => {
          startup = { attempts: attempt, lastError: redact((e as Error).message) };
          metrics.startupFailures.inc();
          metrics.starting.set(1);
          log(`start-up failed (attempt ${attempt}; retrying in ${wait} ms): ${startup.lastError}`);
        },
      });
    } catch (e) {
      // --once: exit 1 means "an alert was found" to a scheduled job; a chain that kept failing is exit 3.
      if (c.flags.follow || (e instanceof GatehouseError && e.exitCode === 2)) throw e;
      throw new GatehouseError("WATCH_INCOMPLETE", { attempts: (e as { attempts?: number }).attempts ?? 1, reason: redact((e as Error).message) }, { cause: e });
    } finally {
      await server?.close();
    }

    async function run(setup: Parameters<Parameters<typeof withSetup>[1]>[0]): Promise<number> {
      const db = (c.flags.db as string | undefined) ?? path.join(c.root, ".gatehouse", `watch-${c.network}.sqlite`);
      let sinks = sinksFromPolicy(setup.policy, c.root);
      if (sinks.length === 0) {
        const dir = path.join(".gatehouse", "reviews", c.network);
        c.out.log(`policies/${c.network}.yaml has no notifications: writing posts to ${dir}/`);
        sinks = [filesSink(path.join(c.root, dir), { id: `files:${dir}` })];
      }
      const base = await watcherOptions(setup);
      const options = {
        ...base,
        sinks,
        ledger: db,
        log,
        ...(fromBlock !== undefined ? { startBlock: fromBlock } : {}),
        ...(maxRange !== undefined ? { maxRange } : {}),
        onPost: (p: { sink: string; key: string; state: string; action: string }) => log(`${p.action} ${p.state} post ${p.key} in ${p.sink}`),
      };
      if (!c.flags.follow) {
        const r: StepResult = await runOnce(options);
        if (siteDir) buildSiteAfterStep(db, siteDir);
        // Exit 1 (a finding) when this run raised an alert: an unknown operation, an upgrade outside the timelock, a role or delay change...
        const alerts = r.posts.filter((p) => p.severity === "alert" && p.state !== "retracted");
        const created = r.posts.filter((p) => p.action === "created" || p.action === "updated");
        c.out.print(`watched '${c.network}' up to block ${r.checkpoint.block} (head ${r.head}): ${r.events} event(s), ${created.length} post(s) written${r.reorgs ? `, ${r.reorgs} reorg(s) handled` : ""}${r.pendingGroups ? `, ${r.pendingGroups} waiting for a sink` : ""}`);
        c.out.result({ ok: r.sinkErrors.length === 0, ...r });
        // A review posted and then turned into an alert by its simulation in this same run is a new alert too.
        const raised = alerts.some((a) => a.action === "created" || (a.action === "updated" && r.posts.some((p) => p.key === a.key && p.action === "created")));
        return r.sinkErrors.length > 0 || raised ? 1 : 0;
      }
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        await follow({
          ...options,
          metrics,
          signal: controller.signal,
          intervalMs: interval ?? 2000,
          onHealth: (h) => (health = h),
          // The site changes only when a subject does (countdowns run in the browser): rebuild after a step that reconciled something.
          ...(siteDir ? { onStep: (r: StepResult) => (r.posts.length > 0 || !siteBuilt ? buildSiteAfterStep(db, siteDir) : undefined) } : {}),
        });
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
      c.out.result({ ok: true, stopped: true });
      return 0;
    }
  },
};

/** Error messages may quote the RPC URL, which often carries an API key: never print it. */
function redact(message: string): string {
  return message.replace(/\b(https?|wss?):\/\/[^\s'")]+/gi, "<rpc url>");
}
export default command;
