import { createHash } from "node:crypto";
import type { PauseState } from "../pipeline/pause.ts";
import { untrusted, untrustedCode } from "../review/untrusted.ts";
import type { Incident, IncidentStep, Notice, StepResult } from "./record.ts";

/**
 * Incident response, the pure part: what to do next given the incident file and what the chain and the
 * sinks say now (`planIncident`), and the words of every notice and of the post-mortem draft. The runner
 * (src/pipeline/incident.ts) reads the chain, applies the plan one step at a time and records each result.
 */

/** What the chain (and the readable sinks) say, read just before planning. */
export interface ChainView {
  /** Operations pending on the timelock now (Waiting or Ready), oldest first. */
  pending: { operationId: string; what?: string }[];
  /** Each operation the incident has a cancel intent for, as the timelock says it now. */
  operations: Record<string, "pending" | "cancelled" | "executed" | "unset">;
  /** Pause facts of each contract the incident pauses. */
  pause: Record<string, PauseState>;
  /** Post steps whose notice a sink already holds (found by its key and content hash). */
  posted: Record<string, boolean>;
}

export type Action =
  | { do: "cancel"; key: string; operationId: string }
  | { do: "pause"; key: string; contract: string }
  | { do: "post"; key: string; seq: number; sink: string };

const resolved = (s: IncidentStep) => s.result !== undefined && s.result.status !== "failed";

/**
 * The next steps of an incident: the incident with new intents recorded (and steps the chain shows done
 * already marked so), and the actions still to take. Call again after acting: the open notice is written
 * once every containment step has a result, so it says what was actually done.
 */
export function planIncident(incident: Incident, chain: ChainView, opts: { now: string; sinks: string[] }): { incident: Incident; actions: Action[] } {
  let next: Incident = structuredClone(incident);
  const note = (key: string, result: StepResult, event: string) => {
    next = { ...next, steps: next.steps.map((s) => (s.key === key ? { ...s, result } : s)), timeline: [...next.timeline, { at: result.at, event }] };
  };
  if (next.status === "open" && !next.containmentPlanned) {
    const intents: IncidentStep[] = [
      ...chain.pending.map((p) => ({ key: `cancel:${p.operationId}`, kind: "cancel" as const, target: p.operationId, intent: `cancel pending operation ${p.operationId}${p.what ? ` (${p.what})` : ""}`, plannedAt: opts.now })),
      ...next.pauseRequested.map((c) => ({ key: `pause:${c}`, kind: "pause" as const, target: c, intent: `pause '${c}'`, plannedAt: opts.now })),
    ].filter((s) => !next.steps.some((x) => x.key === s.key));
    next = { ...next, containmentPlanned: true, steps: [...next.steps, ...intents] };
  }
  // The incident file is a claim: until the open notice reached a sink, a cancel or pause it records as done
  // must still show on chain, else the step is done again and an unposted open notice is written afresh.
  const open = next.notices.find((n) => n.kind === "open");
  const openPosted = open !== undefined && next.steps.some((s) => s.kind === "post" && s.notice === open.seq && resolved(s));
  if (next.status === "open" && !openPosted) {
    const confirmed = (s: IncidentStep) => (s.kind === "cancel" ? chain.operations[s.target] === "cancelled" : chain.pause[s.target]?.pausable === true && chain.pause[s.target]?.paused === true);
    const contradicted = next.steps.filter((s) => s.kind !== "post" && (s.result?.status === "done" || s.result?.status === "already") && !confirmed(s));
    if (contradicted.length > 0) {
      const keys = new Set(contradicted.map((s) => s.key));
      const dropOpen = open !== undefined && open.seq === next.notices.length - 1;
      next = {
        ...next,
        steps: next.steps.filter((s) => !(dropOpen && s.kind === "post" && s.notice === open.seq)).map((s) => (keys.has(s.key) ? { key: s.key, kind: s.kind, target: s.target, intent: s.intent, plannedAt: s.plannedAt } : s)),
        notices: dropOpen ? next.notices.slice(0, -1) : next.notices,
        timeline: [...next.timeline, ...contradicted.map((s) => ({ at: opts.now, event: `${s.intent}: the incident file says ${s.result!.status}, but the chain does not confirm it; redone` }))],
      };
    }
  }
  const actions: Action[] = [];
  for (const s of next.steps) {
    if (resolved(s) || s.kind === "post") continue;
    if (s.kind === "cancel") {
      const state = chain.operations[s.target] ?? "unset";
      if (state === "pending") actions.push({ do: "cancel", key: s.key, operationId: s.target });
      else if (state === "cancelled") note(s.key, { status: "already", at: opts.now, detail: "the timelock shows it cancelled" }, `operation ${s.target} found cancelled`);
      else note(s.key, { status: "skipped", at: opts.now, detail: state === "executed" ? "it executed before it could be cancelled" : "the timelock does not know it" }, `operation ${s.target} could not be cancelled: ${state}`);
    } else {
      const p = chain.pause[s.target];
      if (p?.pausable && p.paused) note(s.key, { status: "already", at: opts.now, detail: "paused() is true" }, `'${s.target}' found paused`);
      else if (p && !p.pausable) note(s.key, { status: "skipped", at: opts.now, detail: `not pausable: ${p.reason}` }, `'${s.target}' cannot be paused: ${p.reason}`);
      else actions.push({ do: "pause", key: s.key, contract: s.target });
    }
  }
  // The open notice, once containment has a result for every step (failed ones say so in it).
  const containment = next.steps.filter((s) => s.kind !== "post");
  if (actions.length === 0 && next.containmentPlanned && containment.every((s) => s.result) && !next.notices.some((n) => n.kind === "open")) {
    next = withNotice(next, openNotice(next, opts.now), opts.sinks);
  }
  for (const s of next.steps) {
    if (s.kind !== "post" || resolved(s)) continue;
    if (chain.posted[s.key]) note(s.key, { status: "already", at: opts.now, detail: "the sink holds this notice" }, `notice ${s.notice} found at ${s.target}`);
    else actions.push({ do: "post", key: s.key, seq: s.notice!, sink: s.target });
  }
  return { incident: next, actions };
}

/** A notice and one post intent per sink. */
export function withNotice(incident: Incident, notice: Omit<Notice, "contentHash" | "seq">, sinks: string[]): Incident {
  const seq = incident.notices.length;
  const full: Notice = { ...notice, seq, contentHash: contentHash(notice) };
  const posts: IncidentStep[] = sinks.map((sink) => ({ key: `post:${seq}:${sink}`, kind: "post", target: sink, notice: seq, intent: `post the ${notice.kind} notice to ${sink}`, plannedAt: notice.at }));
  return { ...incident, notices: [...incident.notices, full], steps: [...incident.steps, ...posts], timeline: [...incident.timeline, { at: notice.at, event: `${notice.kind} notice written` }] };
}

/** An update, unless the same words are already the latest update (a re-run resumes it, never posts twice). */
export function addUpdate(incident: Incident, message: string, now: string, sinks: string[]): Incident {
  const last = incident.notices.filter((n) => n.kind === "update").at(-1);
  if (last && last.markdown.includes(untrusted(message))) return incident;
  return withNotice(incident, updateNotice(incident, message, now), sinks);
}

export function addClose(incident: Incident, message: string | undefined, now: string, sinks: string[]): Incident {
  if (incident.notices.some((n) => n.kind === "close")) return incident;
  const closed: Incident = { ...incident, status: "closed", closedAt: now, timeline: [...incident.timeline, { at: now, event: "incident closed" }] };
  return withNotice(closed, closeNotice(closed, message, now), sinks);
}

function contentHash(n: Pick<Notice, "title" | "summary" | "markdown">): string {
  return createHash("sha256").update(`${n.title}\n${n.summary}\n${n.markdown}`).digest("hex").slice(0, 16);
}

/** What containment did, from the recorded results only (never from the intents). */
export function containmentFacts(incident: Incident): { paused: string[]; cancelled: string[]; notDone: string[] } {
  const c = incident.steps.filter((s) => s.kind !== "post");
  const ok = (s: IncidentStep) => s.result?.status === "done" || s.result?.status === "already";
  return {
    paused: c.filter((s) => s.kind === "pause" && ok(s)).map((s) => s.target),
    cancelled: c.filter((s) => s.kind === "cancel" && ok(s)).map((s) => s.target),
    notDone: c.filter((s) => !ok(s)).map((s) => `${s.intent}: ${s.result ? `${s.result.status}${s.result.detail ? ` (${s.result.detail})` : ""}` : "not attempted"}`),
  };
}

/** When containment ended: the last successful cancel or pause, or the opening when there was nothing to do. */
export function containedAt(incident: Incident): string | undefined {
  const c = incident.steps.filter((s) => s.kind !== "post");
  // A step that failed or that the chain made impossible (skipped) means the runbook did not contain it.
  if (!incident.containmentPlanned || c.some((s) => !s.result || s.result.status === "failed" || s.result.status === "skipped")) return undefined;
  return c.map((s) => s.result!.at).sort().at(-1) ?? incident.openedAt;
}

export function duration(fromIso: string | undefined, toIso: string | undefined): string {
  if (!fromIso || !toIso) return "unknown";
  const s = Math.max(0, Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

function statusLines(incident: Incident): string[] {
  const f = containmentFacts(incident);
  const lines = ["### What is paused", ""];
  lines.push(...(f.paused.length ? f.paused.map((c) => `- ${untrustedCode(c)}: paused (only the timelock can unpause)`) : ["- nothing"]));
  lines.push("", "### What was cancelled", "");
  lines.push(...(f.cancelled.length ? f.cancelled.map((o) => `- operation ${untrustedCode(o)}`) : ["- nothing was pending"]));
  if (f.notDone.length) lines.push("", "### Not done", "", ...f.notDone.map((l) => `- ${untrusted(l)}`));
  return lines;
}

function openNotice(incident: Incident, now: string): Omit<Notice, "contentHash" | "seq"> {
  const f = containmentFacts(incident);
  const title = `Incident: ${untrusted(incident.title)} [${incident.severity}]`;
  const summary = `${incident.network}: ${f.paused.length ? `paused ${f.paused.join(", ")}` : "nothing paused"}; ${f.cancelled.length} pending operation(s) cancelled. Next update by ${incident.nextUpdateBy ?? "the next notice"}.`;
  const markdown = [
    `## ${title}`,
    "",
    `Severity **${incident.severity}** on ${untrustedCode(incident.network)}, opened ${incident.openedAt}.`,
    "",
    "### What happened (as far as we know)",
    "",
    `${untrusted(incident.title)}. Detected ${incident.detectedAt}${incident.detectedBy ? ` by ${untrusted(incident.detectedBy)}` : ""}.`,
    "",
    ...statusLines(incident),
    "",
    "### Next update",
    "",
    `By ${incident.nextUpdateBy ?? "the next notice"}.`,
  ].join("\n");
  return { kind: "open", at: now, title, summary, markdown };
}

function updateNotice(incident: Incident, message: string, now: string): Omit<Notice, "contentHash" | "seq"> {
  const title = `Incident update: ${untrusted(incident.title)} [${incident.severity}]`;
  const markdown = [`## ${title}`, "", `${now}: ${untrusted(message)}`, "", ...statusLines(incident)].join("\n");
  return { kind: "update", at: now, title, summary: untrusted(message), markdown };
}

function closeNotice(incident: Incident, message: string | undefined, now: string): Omit<Notice, "contentHash" | "seq"> {
  const f = containmentFacts(incident);
  const title = `Incident closed: ${untrusted(incident.title)} [${incident.severity}]`;
  const stillPaused = f.paused.length ? ` ${f.paused.join(", ")} stay paused until the timelock unpauses them (a governed change).` : "";
  const contained = containedAt(incident);
  const summary = `${message ? `${untrusted(message)} ` : ""}${contained ? `Contained in ${duration(incident.detectedAt, contained)}.` : "Not every containment step could be done (see below)."}${stillPaused}`;
  const markdown = [`## ${title}`, "", `Closed ${now}.`, "", summary, "", ...statusLines(incident)].join("\n");
  return { kind: "close", at: now, title, summary, markdown };
}

/** The post-mortem draft: the template's {{placeholders}} filled from the incident file. */
export function renderPostmortem(template: string, incident: Incident, renderTextPlain: (t: string) => string): string {
  const f = containmentFacts(incident);
  const values: Record<string, string> = {
    title: renderTextPlain(untrusted(incident.title)),
    id: incident.id,
    severity: incident.severity,
    network: incident.network,
    openedAt: incident.openedAt,
    closedAt: incident.closedAt ?? "(open)",
    beganAt: incident.beganAt ?? "unknown",
    detectedAt: incident.detectedAt,
    detectedBy: incident.detectedBy ? renderTextPlain(untrusted(incident.detectedBy)) : "not recorded",
    timeToDetect: duration(incident.beganAt, incident.detectedAt),
    timeToContain: containedAt(incident) ? duration(incident.detectedAt, containedAt(incident)) : "not contained by the runbook (see below)",
    paused: f.paused.join(", ") || "nothing",
    cancelled: f.cancelled.join(", ") || "nothing",
    notDone: f.notDone.map((l) => `- ${l}`).join("\n") || "- nothing",
    timeline: [...incident.timeline].sort((a, b) => a.at.localeCompare(b.at)).map((t) => `| ${t.at} | ${renderTextPlain(t.event).replaceAll("|", "\\|")} |`).join("\n"),
  };
  return template.replace(/\{\{(\w+)\}\}/g, (m, k: string) => values[k] ?? m);
}

/**
 * The calls a guardian Safe signs for the containment actions (one Transaction Builder batch): `cancel(id)`
 * on the timelock for each operation, `pause()` on each proxy.
 */
export function containmentCalls(actions: Action[], where: { timelock: string; proxies: Record<string, string> }, encode: { cancel: (id: string) => string; pause: () => string }) {
  return actions.flatMap((a) =>
    a.do === "cancel"
      ? [{ to: where.timelock, data: encode.cancel(a.operationId), method: "cancel", args: [{ name: "id", type: "bytes32", value: a.operationId }] }]
      : a.do === "pause"
        ? [{ to: where.proxies[a.contract]!, data: encode.pause(), method: "pause" }]
        : [],
  );
}
