import { readFileSync } from "node:fs";
import { z } from "zod";
import { GatehouseError } from "../errors.ts";
import { effectsHash } from "../simulate/effects.ts";
import type { PacketRead } from "./simulations.ts";
import type { Setup } from "../pipeline/setup.ts";
import { listProposals, proposalFile } from "../records/proposal.ts";
import { packetFile as signerPacketFile } from "../simulate/packet.ts";
import { decideOperation, factsNeededForOperations, operationOccurrences, renderDecision, topologyOf, type Decision, type Rendered } from "./decide.ts";
import { decodeLog, watchInterface, type WatchedEvent } from "./events.ts";
import { renderText, untagData } from "../review/untrusted.ts";
import { factsReader } from "./facts.ts";
import { readGuardians } from "./guardians.ts";
import { policyRoleHolders } from "../pipeline/govern.ts";
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
  const topology = topologyOf(setup.deployment, setup.ctx.network, { ...setup.policy, roleHolders: policyRoleHolders(setup) });
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

/**
 * The part of a signer packet (proposals/<network>/<id>.validation.json, written by stage/propose) the
 * watcher compares with: the pinned effects and their hash. The packet is a file anyone who can merge
 * may edit: a hash that is not the hash of its effects, or a file that is not a packet, is "tampered"
 * (an alert), never a reason to skip the comparison silently.
 */
const Hex = z.string().regex(/^0x[0-9a-fA-F]*$/);
const PinnedEffects = z.object({
  version: z.literal(1),
  operationId: Hex,
  changes: z.array(z.object({ account: z.string(), slot: z.string(), variable: z.string().nullable(), before: z.string(), after: z.string() }).strict()),
  permissions: z.array(z.object({ what: z.string(), before: z.string(), after: z.string() }).strict()),
  balances: z.array(z.object({ account: z.string(), delta: z.string() }).strict()),
  probes: z.array(z.object({ name: z.string(), ok: z.boolean() }).strict()),
  reverts: z.array(z.string()),
}).strict();
const PacketEffects = z.object({ effects: PinnedEffects, effectsHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/) });

/**
 * The signer packet of a proposal (src/simulate/packet.ts names it). Read here for its pinned effects
 * only, and leniently: a packet the watcher cannot read is reported as tampered, never a crash.
 */
export function packetFile(root: string, network: string, proposalId: string): string {
  return signerPacketFile(proposalFile(root, network, proposalId));
}

export function readPacketEffects(file: string, shown = file): PacketRead {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { file: shown, status: "missing" };
    return { file: shown, status: "tampered", detail: `it cannot be read: ${(e as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { file: shown, status: "tampered", detail: "it is not JSON" };
  }
  const parsed = PacketEffects.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { file: shown, status: "tampered", detail: `field ${issue.path.join(".") || "(root)"}: ${issue.message}` };
  }
  const actual = effectsHash(parsed.data.effects);
  if (actual.toLowerCase() !== parsed.data.effectsHash.toLowerCase()) {
    return { file: shown, status: "tampered", detail: `its effectsHash ${parsed.data.effectsHash} is not the hash of its effects (${actual}): the pinned state diff was edited after it was hashed` };
  }
  return { file: shown, status: "ok", effects: parsed.data.effects, effectsHash: actual };
}
