import { ZeroAddress, getAddress } from "ethers";
import type { ProposalRecord } from "../records/proposal.ts";
import type { OperationSimulation } from "../review/operation.ts";
import { compareEffects, effectsHash, effectsOf, type ProposalEffects } from "../simulate/effects.ts";
import type { SimulationReport } from "../simulate/simulate.ts";
import { decodeUpgradeCall } from "../timelock/calls.ts";
import { idsOfCalls, type OperationOccurrence, type Topology } from "./decide.ts";

/**
 * The watcher's re-simulation of pending operations: the job a phase of an occurrence asks for, the
 * bounded queue that runs them beside the loop (a simulation takes seconds; the loop and its metrics
 * must not wait for it), and the pure pieces — the record a simulation starts from when nobody
 * proposed the operation, and the plain-data result the verdict reads.
 */

export type SimulationPhase = OperationSimulation["phase"];

export interface SimulationJob {
  /** The occurrence key (`op:<id>:<scheduling tx>`). */
  key: string;
  group: string;
  phase: SimulationPhase;
  occurrence: OperationOccurrence;
  /** The proposal record of the operation, when there is one (a claim: simulate checks it against the chain). */
  record?: ProposalRecord;
}

/** Runs one simulation (effectful: forks the chain). Never throws for a simulation that could not run: it says why. */
export type Simulator = (job: SimulationJob) => Promise<OperationSimulation>;

export interface WatchSimulateOptions {
  run: Simulator;
  /** Simulate again once the ETA is at most this many seconds away (policy `watcher.simulate.beforeEtaSeconds`). */
  beforeEtaSeconds: number;
  /** Simulations at once (policy `watcher.simulate.concurrency`); each forks the chain in-process. */
  concurrency?: number;
}

/**
 * A queue of simulation jobs, each (occurrence, phase) at most once per process, `concurrency` at a
 * time. `done` stores the result (the ledger keeps it across restarts) and marks the group for a new decision.
 */
export class SimulationQueue {
  private readonly waiting: SimulationJob[] = [];
  private readonly known = new Set<string>();
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  private readonly o: { run: Simulator; concurrency: number; done: (job: SimulationJob, result: OperationSimulation, seconds: number) => void };

  constructor(o: { run: Simulator; concurrency: number; done: (job: SimulationJob, result: OperationSimulation, seconds: number) => void }) {
    this.o = o;
  }

  /** Queue a job unless it is queued, running or done in this process; true when queued now. */
  enqueue(job: SimulationJob): boolean {
    const id = `${job.key}|${job.phase}`;
    if (this.known.has(id)) return false;
    this.known.add(id);
    this.waiting.push(job);
    this.pump();
    return true;
  }

  get size(): number {
    return this.waiting.length + this.active;
  }

  /** Resolves when nothing is queued or running (`--once` waits for it before its last decision). */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.active < this.o.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      this.active++;
      const started = performance.now();
      void this.o
        .run(job)
        .catch((e: unknown): OperationSimulation => ({ phase: job.phase, status: "not-simulated", reason: `the simulation failed to run: ${(e as Error).message?.split("\n")[0] ?? String(e)}` }))
        .then((result) => {
          try {
            this.o.done(job, result, (performance.now() - started) / 1000);
          } catch {
            // The ledger was closed under a job (the watcher stopped): the next process simulates it again.
          }
        })
        .finally(() => {
          this.active--;
          this.pump();
          if (this.size === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    }
  }
}

/**
 * A record to simulate an operation nobody proposed: its batch exactly as the CallScheduled events say,
 * each call labelled with the governed proxy it upgrades (what it "claims" is the policy's target, so the
 * layouts name the slots). Undefined when the operation was scheduled with `schedule` (a single call,
 * another id than scheduleBatch's), which the simulation's executeBatch cannot run.
 */
export function recordFromCalls(occ: OperationOccurrence, t: Topology): ProposalRecord | undefined {
  const ids = idsOfCalls(occ);
  if (ids.batch !== occ.operationId || !occ.complete) return undefined;
  const operations = occ.calls.map((c) => {
    const up = decodeUpgradeCall({ target: c.target, value: BigInt(c.value), data: c.data });
    const proxy = up ? t.proxies.find((p) => p.address.toLowerCase() === up.proxy.toLowerCase()) : undefined;
    return {
      proxy: proxy?.name ?? getAddress(up?.proxy ?? c.target),
      proxyAddress: getAddress(up?.proxy ?? c.target),
      kind: proxy?.kind ?? up?.kind ?? ("uups" as const),
      contract: proxy ? (t.governed[proxy.name]?.contract ?? "unknown") : "unknown",
      oldImplementation: ZeroAddress,
      newImplementation: getAddress(up?.implementation ?? ZeroAddress),
      initializer: up?.initializer ?? "0x",
      call: { target: getAddress(c.target), value: c.value, data: c.data },
    };
  });
  return {
    version: 2,
    id: `onchain-${occ.operationId.slice(2, 14)}`,
    network: t.network,
    chainId: t.chainId,
    createdAt: new Date(0).toISOString(),
    commit: null,
    timelock: t.timelock,
    safe: t.safe,
    operations,
    predecessor: occ.predecessor,
    salt: occ.salt,
    round: 0,
    delay: occ.delay,
    operationId: occ.operationId,
    artifacts: {},
    storageLayoutDiff: {},
    rollback: { operations: [], salt: occ.salt, predecessor: occ.predecessor, operationId: occ.operationId },
    safeTransactions: [],
    state: "scheduled",
    history: [],
  } as unknown as ProposalRecord;
}

/** What the signer packet says, as read by the shell: its pinned effects, or why it cannot be trusted. */
export type PacketRead = { file: string; status: "ok"; effects: ProposalEffects; effectsHash: string } | { file: string; status: "missing" } | { file: string; status: "tampered"; detail: string };

/** The plain-data result of a simulation, with the effects compared against the signer packet (pure). */
export function summarizeSimulation(report: SimulationReport, phase: SimulationPhase, source: "record" | "calls", t: Pick<Topology, "timelock" | "safe">, packet?: PacketRead): OperationSimulation {
  const effects = effectsOf(report, t.timelock, t.safe);
  const hash = effectsHash(effects);
  const kept = new Set(effects.changes.map((c) => `${c.account.toLowerCase()}:${c.slot}`));
  const changes = report.stateDiff
    .filter((c) => kept.has(`${c.account.toLowerCase()}:${c.slot}`))
    .map((c) => ({
      account: c.account,
      accountLabel: c.accountLabel,
      slot: c.slot,
      variable: c.name?.path ?? null,
      before: c.before,
      after: c.after,
      ...(c.decoded?.length ? { decoded: c.decoded.map((d) => `${d.path}: ${d.before} -> ${d.after}`).join("; ") } : {}),
    }));
  let packetResult: OperationSimulation["packet"];
  if (packet?.status === "missing") packetResult = { file: packet.file, status: "missing" };
  else if (packet?.status === "tampered") packetResult = { file: packet.file, status: "tampered", detail: packet.detail };
  else if (packet?.status === "ok") {
    const differences = compareEffects(packet.effects, effects);
    packetResult = differences.length === 0 ? { file: packet.file, status: "match" } : { file: packet.file, status: "differs", differences };
  }
  return {
    phase,
    status: "simulated",
    forkBlock: report.forkBlock,
    source,
    steps: report.steps.map((s) => ({ name: s.name, ok: s.ok, gasUsed: s.gasUsed, ...(s.revert ? { revert: s.revert } : {}) })),
    changes,
    unknownSlots: report.unknownSlots,
    permissions: report.permissions.map((p) => ({ what: p.what, before: p.before, after: p.after })),
    balances: effects.balances,
    probes: report.probes.map((p) => ({ name: p.name, ok: p.ok, detail: p.detail })),
    findings: report.findings.map((f) => ({ kind: f.kind, message: f.message })),
    effects,
    effectsHash: hash,
    ...(packetResult ? { packet: packetResult } : {}),
  };
}
