import { GatehouseError } from "../errors.ts";
import type { Setup } from "../pipeline/setup.ts";
import { listProposals } from "../records/proposal.ts";
import { decideOperation, factsNeededForOperations, operationOccurrences, renderDecision, topologyOf, type Decision, type Rendered } from "./decide.ts";
import { decodeLog, watchInterface, type WatchedEvent } from "./events.ts";
import { renderText, untagData } from "../review/untrusted.ts";
import { factsReader } from "./facts.ts";
import { readGuardians } from "./guardians.ts";
import { blockNumber, creationBlock, rangeState, scanLogs } from "./indexer.ts";
import { retryingRpc, type Rpc } from "./rpc.ts";
import { buildTargetOf, rpcOf, type BuildSource } from "./setup.ts";

/**
 * `gatehouse review <operationId>`: read one operation's events from the chain (bounded ranges, from the
 * timelock's creation block or `fromBlock`), decide it exactly as the watcher does, and render it.
 * Every scheduling of the id is returned, newest last.
 */
export interface OperationReviewResult {
  decision: Decision;
  rendered: Rendered;
}

export async function loadOperationReviews(setup: Setup, operationId: string, opts: { fromBlock?: number; rpc?: Rpc; build?: BuildSource } = {}): Promise<OperationReviewResult[]> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(operationId)) throw new GatehouseError("USAGE", { message: `operation id '${operationId}': expected a 0x-prefixed 32-byte hex value` });
  const id = operationId.toLowerCase();
  const rpc = retryingRpc(opts.rpc ?? (await rpcOf(setup)), { retries: 6 });
  const topology = topologyOf(setup.deployment, setup.ctx.network, setup.policy);
  topology.guardians = await readGuardians(rpc, topology);
  const head = await blockNumber(rpc);
  const from = opts.fromBlock ?? (await creationBlock(rpc, topology.timelock, head));
  const topics = ["CallScheduled", "CallSalt", "CallExecuted", "Cancelled"].map((n) => watchInterface.getEvent(n)!.topicHash);
  const logs = await scanLogs(rpc, { addresses: [topology.timelock], topics }, from, head, rangeState(2000), [id]);
  const events = logs.map(decodeLog).filter((e): e is WatchedEvent => e !== undefined);
  const occs = operationOccurrences(events, topology.timelock);
  if (occs.length === 0) {
    throw new GatehouseError("USAGE", { message: `no operation ${operationId} was ever scheduled on the timelock ${topology.timelock} (blocks ${from}-${head} of '${setup.ctx.network}')` });
  }
  const records = listProposals(setup.root, setup.ctx.network).map((p) => p.record);
  const facts = await factsReader({ rpc, safe: topology.safe, timelock: topology.timelock, buildTarget: buildTargetOf(setup, opts.build) }).gather(factsNeededForOperations(occs, records, topology));
  return occs.map((occ) => {
    const decision = decideOperation(occ, { topology, records, facts });
    const r = renderDecision(decision, facts.now);
    // Printed as Markdown: untrusted names escaped as for GitHub; the JSON is data.
    return { decision, rendered: { title: renderText(r.title, "plain"), summary: renderText(r.summary, "plain"), markdown: renderText(r.markdown, "markdown"), json: untagData(r.json) } };
  });
}
