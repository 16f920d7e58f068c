import { setTimeout as delay } from "node:timers/promises";
import type { DeploymentRecord } from "../records/deployment.ts";
import type { ProposalRecord } from "../records/proposal.ts";
import {
  decideOperation,
  decideTransaction,
  emptyFacts,
  factsNeededForOperations,
  operationOccurrences,
  recordFor,
  renderDecision,
  retractDecision,
  simulationAlerts,
  simulationPhase,
  statusOf,
  topologyOf,
  watchedAddresses,
  type Decision,
  type PolicyTargets,
  type Topology,
} from "./decide.ts";
import { OPERATION_EVENTS, WATCH_TOPICS } from "./events.ts";
import { operationIdOf } from "../proposal/derive.ts";
import { factsReader, type BuildTarget } from "./facts.ts";
import { readGuardians } from "./guardians.ts";
import { blockNumber, creationBlock, header, rangeState, syncToHead, type RangeState, type SyncResult } from "./indexer.ts";
import { Ledger } from "./ledger.ts";
import { createWatchMetrics, startMetricsServer, type Health, type MetricsServer, type WatchMetrics } from "./metrics.ts";
import { failoverRpc, retryingRpc, timedRpc, type Endpoint, type RetryOptions, type Rpc } from "./rpc.ts";
import { emptyHistory, evaluateMonitors, evaluationDue, renderNotice, type MonitorDef, type MonitorHistory, type MonitorNotice } from "./monitors.ts";
import { readMonitors, resolveMulticall } from "./multicall.ts";
import type { Sink, SinkAlert, SinkPost } from "./sinks/sink.ts";
import { contentHash } from "./decide.ts";
import type { OperationSimulation } from "../review/operation.ts";
import { SimulationQueue, type WatchSimulateOptions } from "./simulations.ts";

/**
 * The watcher loop (imperative shell): index → store events, checkpoint and dirty groups in one SQLite
 * transaction → decide (pure core) → reconcile each post with every sink through the post ledger.
 * `runOnce` catches up and returns; `follow` keeps going and serves /metrics and /healthz.
 */

/** Operation groups decided concurrently per chunk (their chain reads share JSON-RPC batches). */
const DECIDE_CHUNK = 32;

/** Where a test can make the process "crash" (throw) to prove restarts neither skip nor repeat posts. */
export type CrashPoint = "after-commit" | "after-send" | "after-done" | "after-reorg";

export interface WatcherOptions {
  rpc: Rpc;
  /**
   * Several JSON-RPC endpoints (the policy's `watcher.fallbackRpcs` after the network's URL): the watcher
   * fails over between them in order and reports each one's health. Default: `rpc` alone.
   */
  endpoints?: Endpoint[];
  /** Metrics label of `rpc` when `endpoints` is not given (an origin, never a URL with a key). */
  rpcOrigin?: string;
  network: string;
  deployment: DeploymentRecord;
  /** Proposal records, read again at every step (the stage workflow commits new ones). */
  records: () => ProposalRecord[];
  sinks: Sink[];
  ledger: Ledger | string;
  /** A block is acted on once it has this many confirmations (policy `watcher.confirmations`; 1 = the head). */
  confirmations?: number;
  /** Largest eth_getLogs range in blocks; halved when the node refuses a range. */
  maxRange?: number;
  /** First block when the ledger has no checkpoint; default: the block that created the timelock. */
  startBlock?: number;
  /** The policy's governed contracts (target contract, allowed upgrade initializers); none: nothing is governed. */
  policy?: PolicyTargets;
  /** The watcher's own build of a policy target at a protected commit (src/build/at-commit.ts). */
  buildTarget?: BuildTarget;
  metrics?: WatchMetrics;
  /** The policy's monitors (src/watch/monitors.ts `monitorDefs`), evaluated every `monitorEveryBlocks` confirmed blocks. */
  monitors?: MonitorDef[];
  monitorEveryBlocks?: number;
  /** Retry policy for RPC calls (false: the caller's rpc already retries). */
  retry?: RetryOptions | false;
  log?: (line: string) => void;
  crash?: (point: CrashPoint, where: { group?: string; sink?: string; key?: string }) => void;
  /**
   * Re-simulate each pending operation at the current head, once when it is scheduled and again near its
   * ETA (policy `watcher.simulate`); beside the loop, bounded, each (operation, phase) once, kept in the ledger.
   */
  simulate?: WatchSimulateOptions;
  /** Called after each post written to a sink (benchmarks measure detection latency with it). */
  onPost?: (info: { sink: string; key: string; state: string; action: PostAction["action"]; at: number }) => void;
}

export interface PostAction {
  sink: string;
  key: string;
  state: string;
  /** "alert" for every alert, including an operation nobody proposed (its state is still "scheduled"). */
  severity: "review" | "alert";
  /** The alert kinds of the post (empty for a review). */
  alerts: string[];
  action: "created" | "updated" | "adopted" | "unchanged" | "skipped";
}

export interface StepResult extends SyncResult {
  posts: PostAction[];
  /** Groups still waiting for a sink (errors are retried on the next step). */
  pendingGroups: number;
  sinkErrors: string[];
}

export interface Watcher {
  readonly ledger: Ledger;
  readonly metrics: WatchMetrics;
  readonly topology: Topology;
  step(): Promise<StepResult>;
  /** Resolves when no simulation is queued or running. */
  simulationsIdle(): Promise<void>;
  /** Simulations queued or running now. */
  simulationsPending(): number;
  health(): Health;
  close(): void;
}

export function createWatcher(o: WatcherOptions): Watcher {
  const log = o.log ?? (() => {});
  const metrics = o.metrics ?? createWatchMetrics();
  const topology = topologyOf(o.deployment, o.network, o.policy);
  const ledger = typeof o.ledger === "string" ? new Ledger(o.ledger) : o.ledger;
  ledger.bind(`${topology.chainId}:${topology.timelock}`);
  // Every endpoint is timed (latency by method and origin); failover moves between them on transport failures.
  const endpoints: Endpoint[] = (o.endpoints ?? [{ origin: o.rpcOrigin ?? "primary", rpc: o.rpc }]).map((e) => ({
    origin: e.origin,
    rpc: timedRpc(e.rpc, (method, seconds, answered) => {
      metrics.rpcSeconds.observe({ method, rpc: e.origin }, seconds);
      metrics.rpcUp.set({ rpc: e.origin }, answered ? 1 : 0);
    }),
  }));
  const failover = failoverRpc(endpoints, {
    onFailover: (from, to, e) => {
      metrics.rpcFailovers.inc({ from, to });
      log(`RPC ${from} failed (${(e as Error).message}); trying ${to}`);
    },
    onActive: (origin) => {
      for (const x of endpoints) metrics.rpcActive.set({ rpc: x.origin }, x.origin === origin ? 1 : 0);
    },
  });
  const rpc =
    o.retry === false
      ? failover
      : retryingRpc(failover, {
          ...o.retry,
          onError: (method, failure, e) => {
            metrics.rpcErrors.inc({ method, failure });
            if (o.retry) o.retry.onError?.(method, failure, e);
          },
        });
  const facts = factsReader({ rpc, safe: topology.safe, timelock: topology.timelock, buildTarget: o.buildTarget });
  const range: RangeState = rangeState(o.maxRange ?? 2000);
  const confirmations = Math.max(1, o.confirmations ?? 1);
  let startBlock = o.startBlock;
  let lastSuccess = 0;
  let lastError: string | undefined;
  let lastHead = 0;
  let lastHeader: { number: number; timestamp: number } | undefined;
  let deepestReorg = 0;
  const monitorDefs = o.monitors ?? [];
  const monitorEvery = Math.max(1, o.monitorEveryBlocks ?? 1);
  let multicall: string | undefined;
  const sim = o.simulate;
  const queue = sim
    ? new SimulationQueue({
        run: sim.run,
        concurrency: Math.max(1, sim.concurrency ?? 1),
        done: (job, result, seconds) => {
          ledger.putSimulation(job.key, job.phase, result);
          // The review changes with the result: decide the group again on the next step.
          ledger.markDirty([job.group]);
          const outcome = result.status !== "simulated" ? "not-simulated" : simulationAlerts(result).length > 0 ? "alert" : "ok";
          metrics.simulations.inc({ phase: job.phase, outcome });
          metrics.simulationSeconds.observe(seconds);
          metrics.simulationsPending.set(queue!.size - 1);
          log(`simulated ${job.key} (${job.phase}): ${outcome}${result.reason ? ` (${result.reason})` : ""} in ${seconds.toFixed(1)} s`);
        },
      })
    : undefined;

  /** The stored simulation of each pending occurrence, queueing the ones its phase still lacks. */
  function simulationsFor(group: string, occs: ReturnType<typeof operationOccurrences>, records: ProposalRecord[], f: { now: number; blockTimestamps: Record<string, number> }): Record<string, OperationSimulation> {
    const out: Record<string, OperationSimulation> = {};
    if (!queue || !sim) return out;
    for (const occ of occs) {
      if (statusOf(occ) !== "scheduled") continue;
      const at = f.blockTimestamps[occ.scheduled.blockHash];
      const phase = simulationPhase(at === undefined ? undefined : at + Number(occ.delay), f.now, sim.beforeEtaSeconds);
      const record = recordFor(occ.operationId, records);
      const stored = ledger.simulation<OperationSimulation>(occ.key, phase);
      // A result from the on-chain calls is redone once a record of this very batch arrives (its packet can be compared then).
      if (!stored || (record && stored.source === "calls" && operationIdOf(record) === occ.operationId)) {
        if (queue.enqueue({ key: occ.key, group, phase, occurrence: occ, ...(record ? { record } : {}) })) metrics.simulationsPending.set(queue.size);
      }
      const shown = stored ?? (phase === "near-eta" ? ledger.simulation<OperationSimulation>(occ.key, "scheduled") : undefined);
      if (shown) out[occ.key] = shown;
    }
    return out;
  }

  /** Pending operations whose ETA came near since they were decided: decide them again (a new simulation is due). */
  async function markNearEta(): Promise<void> {
    if (!sim) return;
    const pending = ledger.pendingSubjects().filter((p) => p.eta !== null && !ledger.simulation(p.key, "near-eta"));
    if (pending.length === 0) return;
    const now = (await header(rpc, "latest"))?.timestamp ?? 0;
    const due = pending.filter((p) => simulationPhase(p.eta!, now, sim.beforeEtaSeconds) === "near-eta");
    if (due.length > 0) ledger.markDirty([...new Set(due.map((p) => p.group))]);
  }

  async function publishOne(sink: Sink, d: Decision, now: number, actions: PostAction[]): Promise<void> {
    await publishPost(sink, d, actions, (shown) => {
      const r = renderDecision(d, now);
      return {
        key: d.key,
        network: topology.network,
        ...(d.operationId ? { operationId: d.operationId } : {}),
        severity: d.severity,
        state: d.state,
        ...(shown !== undefined ? { previousState: shown } : {}),
        title: r.title,
        summary: r.summary,
        markdown: r.markdown,
        json: r.json,
        contentHash: d.contentHash,
      };
    });
  }

  /** Bring one sink to a post through the post ledger (intent, send, done; look the post up when unsure). */
  async function publishPost(
    sink: Sink,
    d: Pick<Decision, "key" | "state" | "severity" | "contentHash"> & { alerts: { kind: string }[] },
    actions: PostAction[],
    build: (shown: string | undefined) => SinkPost,
  ): Promise<void> {
    const kind = d.state;
    const current = ledger.currentPost(sink.id, d.key);
    const record = (action: PostAction["action"]) => {
      actions.push({ sink: sink.id, key: d.key, state: kind, severity: d.severity, alerts: [...new Set(d.alerts.map((x) => x.kind))], action });
      if (action === "created" || action === "updated") {
        metrics.posts.inc({ sink: sink.id, state: kind });
        o.onPost?.({ sink: sink.id, key: d.key, state: kind, action, at: performance.now() });
      }
    };
    if (current?.status === "done" && current.kind === kind && current.contentHash === d.contentHash) return record("unchanged");
    let remoteId = ledger.remoteId(sink.id, d.key);
    let shown: string | undefined = current?.status === "done" ? current.kind : undefined;
    if ((!current || current.status === "intent") && sink.find) {
      // The ledger cannot tell whether an earlier attempt reached the sink: ask the sink, by key.
      const found = await sink.find(d.key);
      if (found) {
        remoteId = found.remoteId;
        shown = found.state;
        if (found.contentHash === d.contentHash && found.state === kind) {
          ledger.done(sink.id, d.key, kind, d.contentHash, remoteId);
          return record("adopted");
        }
      } else if (kind === "retracted") {
        return record("skipped");
      }
    }
    // Nothing was ever posted for it in this sink: nothing to retract.
    if (kind === "retracted" && !current) return record("skipped");
    ledger.intent(sink.id, d.key, kind, d.contentHash, remoteId);
    const post = build(shown);
    const result = await sink.publish(post, remoteId ? { remoteId } : {});
    o.crash?.("after-send", { sink: sink.id, key: d.key });
    ledger.done(sink.id, d.key, kind, d.contentHash, result.remoteId ?? remoteId);
    record(remoteId ? "updated" : "created");
    o.crash?.("after-done", { sink: sink.id, key: d.key });
  }

  async function decideGroup(group: string, records: ProposalRecord[]): Promise<{ decisions: Decision[]; now: number }> {
    if (group.startsWith("op:")) {
      const occs = operationOccurrences(ledger.eventsOfOperation(group.slice(3)), topology.timelock);
      const f = await facts.gather(factsNeededForOperations(occs, records, topology));
      const simulations = simulationsFor(group, occs, records, f);
      return { decisions: occs.map((occ) => decideOperation(occ, { topology, records, facts: f, simulations })), now: f.now };
    }
    const txHash = group.slice(3);
    const events = ledger.eventsOfTx(txHash);
    const others = events.some((e) => !(e.address === topology.timelock && OPERATION_EVENTS.has(e.name)));
    const f = others ? await facts.gather({ blocks: [], txs: [txHash], code: [], implementations: [] }) : emptyFacts();
    return { decisions: decideTransaction(txHash, events, { topology, records, facts: f }), now: f.now };
  }

  async function reconcile(records: ProposalRecord[], failed: Set<string>, result: StepResult): Promise<void> {
    const groups = ledger.dirtyGroups().filter((g) => !failed.has(g));
    // Deciding reads chain facts: the groups of a chunk are decided concurrently (their reads share JSON-RPC
    // batches), then posted one by one in order, so the ledger's intent/done discipline is unchanged.
    for (let i = 0; i < groups.length; i += DECIDE_CHUNK) {
      const chunk = groups.slice(i, i + DECIDE_CHUNK);
      const decided = await Promise.all(chunk.map((group) => decideGroup(group, records)));
      for (const [j, group] of chunk.entries()) await postGroup(group, decided[j]!, failed, result);
    }
  }

  async function postGroup(group: string, { decisions, now }: { decisions: Decision[]; now: number }, failed: Set<string>, result: StepResult): Promise<void> {
    {
      const prior = ledger.subjectsOfGroup(group);
      for (const s of prior) {
        if (decisions.some((d) => d.key === s.key)) continue;
        decisions.push(s.state === "retracted" ? s.decision : retractDecision(s.decision));
      }
      let ok = true;
      for (const d of decisions) {
        const before = prior.find((s) => s.key === d.key);
        ledger.putSubject(d);
        if (d.severity === "alert" && d.state !== "retracted") {
          const had = new Set(before && before.state !== "retracted" ? before.decision.alerts.map((a) => a.kind) : []);
          for (const kind of new Set(d.alerts.map((a) => a.kind))) if (!had.has(kind)) metrics.alerts.inc({ kind });
        }
        for (const sink of o.sinks) {
          try {
            await publishOne(sink, d, now, result.posts);
          } catch (e) {
            if ((e as Error).name === "SimulatedCrash") throw e;
            ok = false;
            metrics.sinkErrors.inc({ sink: sink.id });
            result.sinkErrors.push(`${sink.id} ${d.key}: ${(e as Error).message}`);
            log(`sink ${sink.id} failed for ${d.key} (will retry): ${(e as Error).message}`);
          }
        }
      }
      if (ok) ledger.clearDirty(group);
      else failed.add(group);
    }
  }

  /**
   * What a sink reported (a planted marker): an alert post in every sink, once (the post ledger keys it),
   * counted in gatehouse_watch_alerts_total. It is not a chain event, so it has no subject and no retraction.
   */
  async function publishSinkAlerts(result: StepResult): Promise<void> {
    const found: SinkAlert[] = o.sinks.flatMap((s) => s.takeAlerts?.() ?? []);
    for (const a of found) {
      const d = { key: a.key, state: "alert" as const, severity: "alert" as const, alerts: [{ kind: a.kind }], contentHash: contentHash({ key: a.key, title: a.title, message: a.message, details: a.details }) };
      if (o.sinks.every((s) => ledger.currentPost(s.id, a.key)?.status === "done")) continue;
      metrics.alerts.inc({ kind: a.kind });
      log(`${a.title}: ${a.message}`);
      const post: SinkPost = {
        key: a.key,
        network: topology.network,
        severity: "alert",
        state: "alert",
        title: a.title,
        summary: `${a.title}. ${a.message}`,
        markdown: [`## 🚨 ${a.title}`, "", "> [!CAUTION]", `> **${a.kind}**: ${a.message}`, ""].join("\n"),
        json: { type: "sink-alert", kind: a.kind, title: a.title, message: a.message, ...a.details },
        contentHash: d.contentHash,
      };
      for (const sink of o.sinks) {
        try {
          await publishPost(sink, d, result.posts, () => post);
        } catch (e) {
          metrics.sinkErrors.inc({ sink: sink.id });
          result.sinkErrors.push(`${sink.id} ${a.key}: ${(e as Error).message}`);
          log(`sink ${sink.id} failed for ${a.key}: ${(e as Error).message}`);
        }
      }
    }
  }

  const loadHistory = (): MonitorHistory => {
    const raw = ledger.monitorState();
    return raw ? (JSON.parse(raw) as MonitorHistory) : emptyHistory();
  };

  /**
   * Post what the monitors' outbox holds, in order, through the post ledger (once per sink, resumable). A
   * notice leaves the outbox when every sink has it; a later notice of the same breach waits for it.
   */
  async function flushMonitorOutbox(history: MonitorHistory, result: StepResult): Promise<MonitorHistory> {
    const stuck = new Set<string>();
    const left: MonitorNotice[] = [];
    for (const n of history.outbox) {
      if (stuck.has(n.key)) {
        left.push(n);
        continue;
      }
      const r = renderNotice(n, topology.network);
      const d = { key: n.key, state: n.state, severity: "alert" as const, alerts: [{ kind: "monitor-breach" }], contentHash: contentHash({ notice: n }) };
      const post: SinkPost = { key: n.key, network: topology.network, severity: "alert", state: n.state, title: r.title, summary: r.summary, markdown: r.markdown, json: r.json, contentHash: d.contentHash };
      let ok = true;
      for (const sink of o.sinks) {
        try {
          await publishPost(sink, d, result.posts, () => post);
        } catch (e) {
          if ((e as Error).name === "SimulatedCrash") throw e;
          ok = false;
          metrics.sinkErrors.inc({ sink: sink.id });
          result.sinkErrors.push(`${sink.id} ${n.key}: ${(e as Error).message}`);
          log(`sink ${sink.id} failed for ${n.key} (will retry): ${(e as Error).message}`);
        }
      }
      if (!ok) {
        stuck.add(n.key);
        left.push(n);
      }
    }
    const next = { ...history, outbox: left };
    ledger.setMonitorState(JSON.stringify(next));
    return next;
  }

  /** Evaluate the policy's monitors at the confirmed head when due: one Multicall3 read, then post the notices. */
  async function monitorStep(block: number, result: StepResult): Promise<void> {
    if (monitorDefs.length === 0) return;
    let history = loadHistory();
    if (history.outbox.length > 0) history = await flushMonitorOutbox(history, result);
    if (!evaluationDue(history, block, monitorEvery)) return;
    try {
      if (!multicall) {
        const found = await resolveMulticall(rpc, o.deployment.multicall?.address);
        if ("error" in found) throw new Error(found.error);
        multicall = found.address;
      }
      const readings = await readMonitors(rpc, multicall, monitorDefs, block);
      const ev = evaluateMonitors(monitorDefs, readings, history);
      // The history (with the new notices in its outbox) is stored before anything is posted.
      ledger.setMonitorState(JSON.stringify(ev.history));
      history = ev.history;
      metrics.monitorEvaluations.inc();
      metrics.monitorLastBlock.set(block);
      for (const r of ev.results) {
        const def = monitorDefs.find((x) => x.id === r.id)!;
        if (r.gauge !== undefined) metrics.monitorValue.set({ contract: def.contract, monitor: def.name }, r.gauge);
      }
      for (const def of monitorDefs) metrics.monitorBreached.set({ contract: def.contract, monitor: def.name }, history.monitors[def.id]?.open ? 1 : 0);
      for (const b of ev.breaches) {
        const def = monitorDefs.find((x) => x.id === b.id)!;
        metrics.monitorBreaches.inc({ contract: def.contract, monitor: def.name });
        metrics.alerts.inc({ kind: "monitor-breach" });
        log(`monitor breach ${b.id} at block ${b.block}: ${b.reason}`);
      }
      for (const r of ev.resolutions) log(`monitor ${r.id} resolved at block ${r.block}`);
    } catch (e) {
      if ((e as Error).name === "SimulatedCrash") throw e;
      // Monitoring must not stop the watch of operations: counted, logged, and tried again next step.
      metrics.monitorErrors.inc();
      log(`monitors not evaluated at block ${block} (will retry): ${(e as Error).message}`);
      return;
    }
    if (history.outbox.length > 0) await flushMonitorOutbox(history, result);
  }

  /** Head age and block interval from the watcher's RPC, and each configured endpoint's own head (when several). */
  async function chainHealth(): Promise<void> {
    const now = Date.now() / 1000;
    const probe = async (e: Endpoint, r: Rpc) => {
      try {
        const h = await header(r, "latest");
        if (!h) return undefined;
        metrics.headAge.set({ rpc: e.origin }, Math.max(0, now - h.timestamp));
        metrics.rpcHeadBlock.set({ rpc: e.origin }, h.number);
        return h;
      } catch {
        return undefined; // timedRpc has set gatehouse_rpc_up to 0
      }
    };
    if (endpoints.length > 1) await Promise.all(endpoints.map((e) => probe(e, e.rpc)));
    const active = endpoints.find((e) => e.origin === failover.active())!;
    const h = await probe(active, rpc);
    if (h && lastHeader && h.number > lastHeader.number) metrics.blockInterval.set((h.timestamp - lastHeader.timestamp) / (h.number - lastHeader.number));
    if (h) lastHeader = { number: h.number, timestamp: h.timestamp };
  }

  async function updateMetrics(result: SyncResult): Promise<void> {
    metrics.headBlock.set(result.head);
    metrics.lastProcessedBlock.set(result.checkpoint.block);
    metrics.headLag.set(Math.max(0, result.head - result.checkpoint.block));
    metrics.rangeSize.set(range.size);
    const pending = ledger.pending();
    metrics.pendingOperations.set(pending.count);
    if (pending.nextEta === null) metrics.secondsToNextEta.set(-1);
    else {
      const latest = await header(rpc, "latest");
      metrics.secondsToNextEta.set(Math.max(0, pending.nextEta - (latest?.timestamp ?? 0)));
    }
    metrics.openAlerts.reset();
    for (const [kind, n] of Object.entries(ledger.alertCounts())) metrics.openAlerts.set({ kind }, n);
  }

  return {
    ledger,
    metrics,
    topology,
    async step() {
      const end = metrics.stepSeconds.startTimer();
      try {
        const records = o.records();
        const failed = new Set<string>();
        const partial: StepResult = { head: 0, target: 0, checkpoint: { block: -1, hash: "" }, ranges: 0, events: 0, reorgs: 0, posts: [], pendingGroups: 0, sinkErrors: [] };
        // An operation posted as unknown whose proposal record has arrived since is decided again.
        for (const r of records) {
          const group = `op:${r.operationId.toLowerCase()}`;
          if (ledger.subjectsOfGroup(group).some((s) => s.state !== "retracted" && s.decision.review && !s.decision.review.proposal)) ledger.markDirty([group]);
        }
        await markNearEta();
        // The guardians each review names, read from the chain once per process.
        if (!topology.guardians) topology.guardians = await readGuardians(rpc, topology);
        // Groups left dirty by a crash or a failing sink come first, unless a reorg is still being
        // re-indexed (the hold is in the ledger): deciding them now would retract posts that are only moving.
        if (ledger.hold() === undefined) await reconcile(records, failed, partial);
        if (startBlock === undefined && !ledger.checkpoint()) {
          startBlock = await creationBlock(rpc, topology.timelock, await blockNumber(rpc));
          log(`no checkpoint: starting at block ${startBlock}, where the timelock ${topology.timelock} was created`);
        }
        const sync = await syncToHead({
          rpc,
          ledger,
          addresses: watchedAddresses(topology),
          topics: WATCH_TOPICS,
          timelock: topology.timelock,
          confirmations,
          range,
          startBlock: startBlock ?? 0,
          keepBlocks: 1024,
          hooks: {
            onRangeRefused: ({ from, to, size }) => {
              metrics.rangeRefusals.inc();
              log(`the node refused eth_getLogs ${from}-${to}: range halved to ${size} blocks`);
            },
            onReorg: ({ from, ancestor, depth, groups }) => {
              metrics.reorgs.inc();
              deepestReorg = Math.max(deepestReorg, depth);
              metrics.reorgDepthMax.set(deepestReorg);
              facts.clear();
              log(`reorg: block ${from} is no longer canonical; rolled back ${depth} block(s) to ${ancestor}; re-deciding ${groups.length} group(s) once re-indexed to block ${ledger.hold()}`);
              o.crash?.("after-reorg", {});
            },
            onUnstable: ({ from, to, reason }) => log(`range ${from}-${to} re-read: ${reason}`),
            afterCommit: async ({ to, dirty }) => {
              // After a reorg, posts wait until the new branch is indexed as far as the old one was.
              const hold = ledger.hold();
              if (hold !== undefined && to >= hold) ledger.clearHold();
              if (dirty.length === 0 || (hold !== undefined && to < hold)) return;
              o.crash?.("after-commit", { group: dirty[0] });
              await reconcile(records, failed, partial);
            },
          },
        });
        // Indexed up to the confirmed head: whatever the reorg removed and the new branch did not bring back is gone.
        ledger.clearHold();
        await reconcile(records, failed, partial);
        await publishSinkAlerts(partial);
        await monitorStep(sync.target, partial);
        if (partial.posts.some((p) => p.action === "created" || p.action === "updated" || p.action === "adopted")) {
          for (const sink of o.sinks) {
            try {
              await sink.flush?.();
            } catch (e) {
              log(`sink ${sink.id} could not flush: ${(e as Error).message}`);
            }
          }
        }
        const result: StepResult = { ...sync, posts: partial.posts, pendingGroups: ledger.dirtyGroups().length, sinkErrors: partial.sinkErrors };
        lastHead = sync.head;
        await updateMetrics(sync);
        await chainHealth();
        lastSuccess = Date.now();
        lastError = undefined;
        metrics.lastSuccess.set(Math.floor(lastSuccess / 1000));
        return result;
      } catch (e) {
        lastError = (e as Error).message;
        throw e;
      } finally {
        end();
      }
    },
    simulationsIdle: () => queue?.idle() ?? Promise.resolve(),
    simulationsPending: () => queue?.size ?? 0,
    health() {
      const cp = ledger.checkpoint();
      return { ok: lastSuccess > 0 && lastError === undefined, lastSuccessAt: lastSuccess ? new Date(lastSuccess).toISOString() : null, lastProcessedBlock: cp?.block ?? null, head: lastHead, lagBlocks: cp ? Math.max(0, lastHead - cp.block) : null, pendingGroups: ledger.dirtyGroups().length, ...(lastError ? { lastError } : {}) };
    },
    close() {
      if (typeof o.ledger === "string") ledger.close();
    },
  };
}

/** `gatehouse watch --once`: catch up to the confirmed head, post, and return. */
export async function runOnce(o: WatcherOptions): Promise<StepResult> {
  const w = createWatcher(o);
  try {
    const first = await w.step();
    if (w.simulationsPending() === 0) return first;
    // A scheduled job posts the simulated review in the same run: wait for the simulations, decide again.
    await w.simulationsIdle();
    const second = await w.step();
    return { ...second, posts: [...first.posts, ...second.posts], sinkErrors: [...first.sinkErrors, ...second.sinkErrors] };
  } finally {
    w.close();
  }
}

export interface FollowOptions extends WatcherOptions {
  intervalMs?: number;
  signal?: AbortSignal;
  /** Serve /metrics and /healthz on this loopback port (0: any free port). */
  metricsPort?: number;
  metricsHost?: string;
  /** Unhealthy after this long without a successful step. */
  staleAfterMs?: number;
  onStep?: (r: StepResult) => void;
  onListening?: (server: MetricsServer) => void;
  /** Hands out the health function when the caller serves /healthz itself (it started before the watcher). */
  onHealth?: (health: () => Health) => void;
}

/** `gatehouse watch --follow`: step, sleep, repeat, until the signal aborts. Failed steps are retried. */
export async function follow(o: FollowOptions): Promise<void> {
  const w = createWatcher(o);
  const interval = o.intervalMs ?? 2000;
  const staleAfter = o.staleAfterMs ?? Math.max(10 * interval, 120_000);
  let lastOk = 0;
  const health = (): Health => {
    const h = w.health();
    return { ...h, ok: lastOk > 0 && Date.now() - lastOk <= staleAfter };
  };
  const server = o.metricsPort !== undefined ? await startMetricsServer({ metrics: w.metrics, health, port: o.metricsPort, host: o.metricsHost }) : undefined;
  if (server) o.onListening?.(server);
  o.onHealth?.(health);
  let failures = 0;
  try {
    while (!o.signal?.aborted) {
      try {
        const r = await w.step();
        lastOk = Date.now();
        failures = 0;
        o.onStep?.(r);
      } catch (e) {
        if ((e as Error).name === "SimulatedCrash") throw e;
        failures++;
        w.metrics.stepErrors.inc();
        o.log?.(`watch step failed (${failures} in a row; nothing is skipped, retrying): ${(e as Error).message}`);
      }
      const wait = failures === 0 ? interval : Math.min(60_000, interval * 2 ** Math.min(failures, 6));
      try {
        await delay(wait, undefined, { signal: o.signal });
      } catch {
        break;
      }
    }
  } finally {
    await server?.close();
    w.close();
  }
}

/**
 * Run `start` (connecting to the chain and everything a watcher needs before its first step) until it
 * succeeds, with exponential backoff: a service must survive an RPC that fails while it starts as it
 * survives one that fails later. `fatal` errors (bad configuration) end it at once; `attempts` bounds it
 * (--once); every failure is counted and reported (`onFailure`, for /healthz and the logs).
 */
export async function startWithRetry<T>(
  start: () => Promise<T>,
  o: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number; signal?: AbortSignal; fatal: (e: unknown) => boolean; onFailure?: (e: unknown, attempt: number, waitMs: number) => void },
): Promise<T> {
  const base = o.baseDelayMs ?? 1000;
  const max = o.maxDelayMs ?? 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      if (o.fatal(e) || (o.attempts !== undefined && attempt >= o.attempts) || o.signal?.aborted) throw Object.assign(e as object, { attempts: attempt });
      const wait = Math.min(max, base * 2 ** (attempt - 1));
      o.onFailure?.(e, attempt, wait);
      try {
        await delay(wait, undefined, { signal: o.signal });
      } catch {
        throw Object.assign(e as object, { attempts: attempt });
      }
    }
  }
}
