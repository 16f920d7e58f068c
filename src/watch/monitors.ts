import { Interface, getAddress, id as keccakText } from "ethers";
import type { Policy } from "../policy/schema.ts";
import { untrusted, untrustedCode } from "../review/untrusted.ts";

/**
 * State-aware monitoring, the pure core: the policy's `monitors:` compiled into definitions (what to read,
 * what to expect), and `evaluateMonitors`, which turns one evaluation's readings and the remembered history
 * into breaches and resolutions with hysteresis: a breach opens once, stays open while the expectation
 * fails, and resolves only after `resolveAfter` good evaluations in a row, so a value that wobbles around a
 * bound does not flap. Reading the chain (one Multicall3 aggregate3 call, one eth_getLogs) and posting
 * live in the watcher.
 */

export type MonitorDef = ViewMonitorDef | EventMonitorDef;

interface Base {
  /** `<contract>.<monitor>`: unique, used in metrics labels and post keys. */
  id: string;
  contract: string;
  name: string;
  address: string;
  resolveAfter: number;
}

export interface ViewMonitorDef extends Base {
  kind: "view";
  call: string;
  returns: string;
  callData: string;
  numeric: boolean;
  equals?: string;
  atLeast?: bigint;
  atMost?: bigint;
  maxChange?: { percent: number; blocks: number };
}

export interface EventMonitorDef extends Base {
  kind: "event-rate";
  event: string;
  topic: string;
  moreThan: number;
  blocks: number;
}

/** One evaluation's reading of a monitor at `block`: the value, or why there is none (e.g. the call reverted). */
export type Reading = { id: string; block: number; value: string } | { id: string; block: number; error: string };

/** A notice the watcher must post (kept in the history until every sink has it: an outbox). */
export interface MonitorNotice {
  key: string;
  id: string;
  state: "alert" | "resolved";
  block: number;
  /** Why it breached (alert), or the value it came back to (resolved). */
  reason: string;
  expectation: string;
  value?: string;
  openedAt: number;
}

export interface MonitorMemory {
  /** Earlier values (maxChange looks back `blocks` blocks). */
  points: { block: number; value: string }[];
  open?: { key: string; since: number; reason: string };
  goodInARow: number;
}

/** Everything remembered between evaluations (JSON: it is stored in the watcher's ledger). */
export interface MonitorHistory {
  lastBlock?: number;
  monitors: Record<string, MonitorMemory>;
  outbox: MonitorNotice[];
}

export interface MonitorResult {
  id: string;
  ok: boolean;
  /** The gauge value (numbers, bool as 0/1, event counts); undefined for addresses, bytes or no reading. */
  gauge?: number;
  reason?: string;
}

export interface Evaluation {
  results: MonitorResult[];
  breaches: MonitorNotice[];
  resolutions: MonitorNotice[];
  history: MonitorHistory;
}

export const emptyHistory = (): MonitorHistory => ({ monitors: {}, outbox: [] });

/** Compile the policy's monitors against the deployed proxies; `proxies` maps a contract name to its address. */
export function monitorDefs(policy: Pick<Policy, "contracts">, proxies: Record<string, string | undefined>): MonitorDef[] {
  const defs: MonitorDef[] = [];
  for (const c of policy.contracts) {
    const proxy = c.proxy ?? proxies[c.name];
    if (!proxy || !c.monitors?.length) continue;
    for (const m of c.monitors) {
      const base = { id: `${c.name}.${m.name}`, contract: c.name, name: m.name, address: getAddress(proxy), resolveAfter: m.resolveAfter };
      if (m.event !== undefined) {
        defs.push({ ...base, kind: "event-rate", event: m.event, topic: keccakText(m.event), moreThan: m.moreThan!, blocks: m.blocks! });
        continue;
      }
      const iface = new Interface([`function ${m.call!} view returns (${m.returns!})`]);
      const fn = iface.fragments[0] as unknown as { name: string };
      const numeric = /^u?int/.test(m.returns!);
      defs.push({
        ...base,
        kind: "view",
        call: m.call!,
        returns: m.returns!,
        callData: iface.encodeFunctionData(fn.name, m.args),
        numeric,
        ...(m.equals !== undefined ? { equals: normalize(m.returns!, String(m.equals)) } : {}),
        ...(m.atLeast !== undefined ? { atLeast: BigInt(m.atLeast) } : {}),
        ...(m.atMost !== undefined ? { atMost: BigInt(m.atMost) } : {}),
        ...(m.maxChange ? { maxChange: m.maxChange } : {}),
      });
    }
  }
  return defs;
}

/** Canonical text of a value of ABI type `type` (decimal integers, true/false, lower-case hex). */
export function normalize(type: string, value: string): string {
  if (/^u?int/.test(type)) return BigInt(value).toString();
  if (type === "bool") return String(value === "true" || value === "1");
  return value.toLowerCase();
}

export function expectationOf(d: MonitorDef): string {
  if (d.kind === "event-rate") return `at most ${d.moreThan} ${d.event} event(s) in ${d.blocks} blocks`;
  const parts: string[] = [];
  if (d.equals !== undefined) parts.push(`equals ${d.equals}`);
  if (d.atLeast !== undefined) parts.push(`at least ${d.atLeast}`);
  if (d.atMost !== undefined) parts.push(`at most ${d.atMost}`);
  if (d.maxChange) parts.push(`changes by at most ${d.maxChange.percent}% per ${d.maxChange.blocks} blocks`);
  return `${d.call} ${parts.join(", ")}`;
}

function gaugeOf(d: MonitorDef, value: string): number | undefined {
  if (d.kind === "event-rate" || d.numeric) return Number(value);
  if (d.returns === "bool") return value === "true" ? 1 : 0;
  return undefined;
}

/** Why the reading fails the expectation, or undefined when it meets it. */
function judge(d: MonitorDef, r: Reading, memory: MonitorMemory | undefined): string | undefined {
  if ("error" in r) return `no value: ${r.error}`;
  if (d.kind === "event-rate") return Number(r.value) > d.moreThan ? `${r.value} ${d.event} events in the last ${d.blocks} blocks (more than ${d.moreThan})` : undefined;
  if (d.equals !== undefined && r.value !== d.equals) return `${d.call} is ${r.value}, expected ${d.equals}`;
  if (!d.numeric) return undefined;
  const v = BigInt(r.value);
  if (d.atLeast !== undefined && v < d.atLeast) return `${d.call} is ${v}, below the minimum ${d.atLeast}`;
  if (d.atMost !== undefined && v > d.atMost) return `${d.call} is ${v}, above the maximum ${d.atMost}`;
  if (d.maxChange) {
    for (const p of memory?.points ?? []) {
      if (p.block >= r.block || p.block < r.block - d.maxChange.blocks) continue;
      const before = BigInt(p.value);
      const delta = v > before ? v - before : before - v;
      const abs = before < 0n ? -before : before;
      // Integer percent test without floats: delta / |before| > percent / 100, percent to 1e-6.
      const scaledPercent = BigInt(Math.round(d.maxChange.percent * 1e6));
      if (delta > 0n && (abs === 0n || delta * 100_000_000n > scaledPercent * abs)) {
        return `${d.call} moved from ${before} (block ${p.block}) to ${v} (block ${r.block}), more than ${d.maxChange.percent}% within ${d.maxChange.blocks} blocks`;
      }
    }
  }
  return undefined;
}

/** Post key of a breach episode: one post per episode, updated in place when it resolves. */
export function noticeKey(d: Pick<MonitorDef, "id">, since: number): string {
  return `monitor:${d.id}:${since}`;
}

/**
 * One evaluation. Pure: the readings (one per definition, all at the same block) and the history in, the
 * results (for gauges), the new breaches and resolutions, and the next history out. New notices are also
 * appended to the history's outbox, so a crash between storing the history and posting loses nothing.
 */
export function evaluateMonitors(defs: MonitorDef[], readings: Reading[], history: MonitorHistory): Evaluation {
  const next: MonitorHistory = { ...(history.lastBlock !== undefined ? { lastBlock: history.lastBlock } : {}), monitors: {}, outbox: [...history.outbox] };
  const results: MonitorResult[] = [];
  const breaches: MonitorNotice[] = [];
  const resolutions: MonitorNotice[] = [];
  const byId = new Map(readings.map((r) => [r.id, r]));
  for (const d of defs) {
    const memory = history.monitors[d.id];
    const r = byId.get(d.id);
    if (!r) {
      // Not read this time (e.g. a definition added since): keep what was remembered.
      if (memory) next.monitors[d.id] = memory;
      continue;
    }
    next.lastBlock = Math.max(next.lastBlock ?? r.block, r.block);
    const reason = judge(d, r, memory);
    const value = "value" in r ? r.value : undefined;
    const gauge = value !== undefined ? gaugeOf(d, value) : undefined;
    results.push({ id: d.id, ok: reason === undefined, ...(gauge !== undefined ? { gauge } : {}), ...(reason ? { reason } : {}) });
    const lookback = d.kind === "view" && d.maxChange ? d.maxChange.blocks : 0;
    const points = [...(memory?.points ?? []), ...(value !== undefined && lookback > 0 ? [{ block: r.block, value }] : [])].filter((p) => p.block >= r.block - lookback);
    let open = memory?.open;
    let goodInARow = memory?.goodInARow ?? 0;
    const base = { id: d.id, block: r.block, expectation: expectationOf(d), ...(value !== undefined ? { value } : {}) };
    if (reason !== undefined) {
      goodInARow = 0;
      if (!open) {
        open = { key: noticeKey(d, r.block), since: r.block, reason };
        breaches.push({ ...base, key: open.key, state: "alert", reason, openedAt: r.block });
      }
    } else if (open) {
      goodInARow += 1;
      if (goodInARow >= d.resolveAfter) {
        resolutions.push({ ...base, key: open.key, state: "resolved", reason: `back within expectation at block ${r.block}${value !== undefined ? ` (value ${value})` : ""}; breached since block ${open.since}: ${open.reason}`, openedAt: open.since });
        open = undefined;
        goodInARow = 0;
      }
    }
    next.monitors[d.id] = { points, ...(open ? { open } : {}), goodInARow };
  }
  next.outbox.push(...breaches, ...resolutions);
  return { results, breaches, resolutions, history: next };
}

/** Whether an evaluation is due at `block` (every `every` blocks since the last one). */
export function evaluationDue(history: MonitorHistory, block: number, every: number): boolean {
  return history.lastBlock === undefined || block >= history.lastBlock + every;
}

/** The post of a notice: title, one-line summary, Markdown and JSON (tagged text: values come from the chain). */
export function renderNotice(n: MonitorNotice, network: string): { title: string; summary: string; markdown: string; json: Record<string, unknown> } {
  const resolved = n.state === "resolved";
  // The reason quotes the policy (a claim) and chain values: marked untrusted, escaped by each sink.
  const reason = untrusted(n.reason);
  const id = untrusted(n.id);
  const title = resolved ? `Resolved: monitor ${id} on ${network}` : `Monitor breach: ${id} on ${network}`;
  const markdown = [
    resolved ? `## ✅ ${title}` : `## 🚨 ${title}`,
    "",
    resolved ? "> [!NOTE]" : "> [!CAUTION]",
    `> ${reason}`,
    "",
    `- Expectation: ${untrustedCode(n.expectation)}`,
    `- Breached at block ${n.openedAt}${resolved ? `; resolved at block ${n.block}` : ""}`,
    ...(n.value !== undefined ? [`- Value at block ${n.block}: ${untrustedCode(n.value)}`] : []),
    "",
  ].join("\n");
  return {
    title,
    summary: `${title}. ${reason}`,
    markdown,
    json: { type: "monitor", monitor: n.id, state: n.state, block: n.block, openedAt: n.openedAt, expectation: n.expectation, reason: n.reason, ...(n.value !== undefined ? { value: n.value } : {}) },
  };
}
