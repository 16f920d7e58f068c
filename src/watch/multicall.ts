import { readFileSync } from "node:fs";
import { AbiCoder, Interface, getAddress } from "ethers";
import { MULTICALL_ARTIFACT, type MulticallArtifact } from "./multicall-build.ts";
import { normalize, type EventMonitorDef, type MonitorDef, type Reading, type ViewMonitorDef } from "./monitors.ts";
import type { Rpc } from "./rpc.ts";

/**
 * Reading monitors from the chain (effectful edge): every view monitor in ONE Multicall3 `aggregate3`
 * eth_call at the evaluated block, every event-rate monitor in one eth_getLogs over the widest window.
 *
 * The Multicall3 the watcher reads through must be one it can trust, since it could report any value: the
 * canonical deployment (0xcA11…CA11, placed by a presigned keyless transaction nobody can replay with other
 * code), or the address the deployment record names when its runtime code is exactly the vendored
 * artifact's. Anything else is refused.
 */
export const CANONICAL_MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11";

const AGGREGATE3 = new Interface(["function aggregate3((address target, bool allowFailure, bytes callData)[] calls) payable returns ((bool success, bytes returnData)[] returnData)"]);

let artifact: MulticallArtifact | undefined;
export function multicallArtifact(): MulticallArtifact {
  artifact ??= JSON.parse(readFileSync(MULTICALL_ARTIFACT, "utf8")) as MulticallArtifact;
  return artifact;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** The Multicall3 to read through: the recorded one when its code is the vendored build, else the canonical one. */
export async function resolveMulticall(rpc: Rpc, recorded: string | undefined): Promise<{ address: string } | { error: string }> {
  if (recorded) {
    const code = (await rpc.request<string>("eth_getCode", [recorded, "latest"])).toLowerCase();
    if (code === multicallArtifact().deployedBytecode.toLowerCase()) return { address: getAddress(recorded) };
    if (getAddress(recorded) !== CANONICAL_MULTICALL3) {
      return { error: `the deployment record's Multicall3 ${recorded} does not run the vendored Multicall3 bytecode (${code === "0x" ? "no code" : "other code"}); not reading through it` };
    }
  }
  const canonical = await rpc.request<string>("eth_getCode", [CANONICAL_MULTICALL3, "latest"]);
  if (canonical !== "0x") return { address: CANONICAL_MULTICALL3 };
  return { error: `no Multicall3 on this chain (none at ${CANONICAL_MULTICALL3} and none in the deployment record): run \`gatehouse deploy\`, which deploys one` };
}

/** Read every monitor at `block`: one aggregate3 eth_call for the views, one eth_getLogs for the events. */
export async function readMonitors(rpc: Rpc, multicall: string, defs: MonitorDef[], block: number): Promise<Reading[]> {
  const views = defs.filter((d): d is ViewMonitorDef => d.kind === "view");
  const events = defs.filter((d): d is EventMonitorDef => d.kind === "event-rate");
  const [viewReadings, eventReadings] = await Promise.all([readViews(rpc, multicall, views, block), readEvents(rpc, events, block)]);
  return [...viewReadings, ...eventReadings];
}

async function readViews(rpc: Rpc, multicall: string, views: ViewMonitorDef[], block: number): Promise<Reading[]> {
  if (views.length === 0) return [];
  // allowFailure: one reverting view is that monitor's breach, not a failed evaluation of all.
  const data = AGGREGATE3.encodeFunctionData("aggregate3", [views.map((v) => [v.address, true, v.callData])]);
  const raw = await rpc.request<string>("eth_call", [{ to: multicall, data }, hex(block)]);
  const [results] = AGGREGATE3.decodeFunctionResult("aggregate3", raw) as unknown as [[boolean, string][]];
  const coder = AbiCoder.defaultAbiCoder();
  return views.map((v, i): Reading => {
    const [success, returnData] = results[i] ?? [false, "0x"];
    if (!success) return { id: v.id, block, error: `${v.call} reverted` };
    try {
      const [value] = coder.decode([v.returns], returnData);
      return { id: v.id, block, value: normalize(v.returns, String(value)) };
    } catch {
      return { id: v.id, block, error: `${v.call} returned data that is not one ${v.returns}` };
    }
  });
}

async function readEvents(rpc: Rpc, events: EventMonitorDef[], block: number): Promise<Reading[]> {
  if (events.length === 0) return [];
  const widest = Math.max(...events.map((e) => e.blocks));
  const logs = await rpc.request<{ address: string; topics: string[]; blockNumber: string; removed?: boolean }[]>("eth_getLogs", [
    {
      fromBlock: hex(Math.max(0, block - widest + 1)),
      toBlock: hex(block),
      address: [...new Set(events.map((e) => e.address))],
      topics: [[...new Set(events.map((e) => e.topic))]],
    },
  ]);
  return events.map((e): Reading => {
    const from = block - e.blocks + 1;
    const n = logs.filter((l) => !l.removed && getAddress(l.address) === e.address && l.topics[0]?.toLowerCase() === e.topic && Number(BigInt(l.blockNumber)) >= from).length;
    return { id: e.id, block, value: String(n) };
  });
}
