import { existsSync, readFileSync } from "node:fs";
import { packageRoot } from "../package-root.ts";
import path from "node:path";
import { getAddress } from "ethers";
import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { displayPath, writeFileAtomic, writeJsonAtomic } from "../fs/atomic.ts";
import { addClose, addUpdate, containmentCalls, planIncident, renderPostmortem, type Action, type ChainView } from "../incident/plan.ts";
import { Incident as IncidentSchema, incidentFile, incidentId, listIncidents, readIncident, writeIncident, type Incident, type Notice } from "../incident/record.ts";
import { proposalWords } from "../proposal/derive.ts";
import { listProposals } from "../records/proposal.ts";
import { renderText, untrusted } from "../review/untrusted.ts";
import { ROLES, encodeCancel } from "../timelock/calls.ts";
import { callsTxBuilderFile, type TxBuilderFile } from "../review/tx-builder.ts";
import type { Sink, SinkPost } from "../watch/sinks/sink.ts";
import { cancel, guardianSafe } from "./cancel.ts";
import { pauseInterface, pauseOne, readPauseState } from "./pause.ts";
import { operationState, scanFrom, wasCancelled, type Setup } from "./setup.ts";

/**
 * `gatehouse incident open|update|close`, the effectful runner around src/incident/plan.ts: read the
 * chain, plan, record the intents, act one step at a time and record each result (atomic writes), then
 * plan again until nothing is left. A re-run after a crash reads the chain and the sinks before acting,
 * so nothing is cancelled, paused or posted twice.
 */
export interface IncidentReport {
  file: string;
  incident: Incident;
  /** One line per step this run took or found done ("kept" when nothing changed). */
  actions: string[];
  postmortem?: string;
}

export interface IncidentDeps {
  setup: Setup;
  sinks: Sink[];
  /** The guardian's key: cancels and pauses. Absent with `builderFile`. */
  guardian?: Actor;
  /**
   * A guardian Safe: write the cancels and pauses as one Transaction Builder batch here instead of sending
   * them; a re-run once the Safe executed it finds them done on chain and posts the notice.
   */
  builderFile?: string;
  now?: () => Date;
  log?: (line: string) => void;
}

/** Operations pending on the timelock now, from its CallScheduled events (the chain, not the records). */
export async function pendingOperations(setup: Setup): Promise<{ operationId: string; what?: string }[]> {
  const logs = await setup.timelock.queryFilter(setup.timelock.filters.CallScheduled!(), scanFrom(setup), "latest");
  const ids = [...new Set(logs.map((l) => l.topics[1]!))];
  const records = listProposals(setup.root, setup.ctx.network);
  const out: { operationId: string; what?: string }[] = [];
  for (const id of ids) {
    const { state } = await operationState(setup.timelock, id);
    if (state !== "Waiting" && state !== "Ready") continue;
    const record = records.find((p) => p.record.operationId === id)?.record;
    out.push({ operationId: id, ...(record ? { what: `proposal ${record.id}: ${proposalWords(record)}` } : { what: "no proposal record names it" }) });
  }
  return out;
}

async function readChainView(deps: IncidentDeps, incident: Incident): Promise<ChainView> {
  const { setup } = deps;
  const pending = incident.containmentPlanned || incident.status !== "open" ? [] : await pendingOperations(setup);
  const operations: ChainView["operations"] = {};
  for (const s of incident.steps.filter((x) => x.kind === "cancel")) {
    const { state } = await operationState(setup.timelock, s.target);
    operations[s.target] = state === "Waiting" || state === "Ready" ? "pending" : state === "Done" ? "executed" : (await wasCancelled(setup, s.target)) ? "cancelled" : "unset";
  }
  for (const p of pending) operations[p.operationId] = "pending";
  const pause: ChainView["pause"] = {};
  for (const c of new Set([...incident.pauseRequested, ...incident.steps.filter((x) => x.kind === "pause").map((x) => x.target)])) pause[c] = await readPauseState(setup, c);
  const posted: ChainView["posted"] = {};
  for (const s of incident.steps.filter((x) => x.kind === "post" && (!x.result || x.result.status === "failed"))) {
    const sink = deps.sinks.find((k) => k.id === s.target);
    const notice = incident.notices[s.notice!]!;
    const found = sink?.find ? await sink.find(postKey(incident, notice)).catch(() => undefined) : undefined;
    posted[s.key] = !!found && found.contentHash === notice.contentHash;
  }
  return { pending, operations, pause, posted };
}

export function postKey(incident: Pick<Incident, "id">, notice: Pick<Notice, "seq">): string {
  return `incident:${incident.id}:${notice.seq}`;
}

/** A notice as every sink takes it: an alert-severity post with its own key, escaped by each sink. */
export function sinkPost(incident: Incident, notice: Notice): SinkPost {
  return {
    key: postKey(incident, notice),
    network: incident.network,
    severity: "alert",
    state: "alert",
    title: notice.title,
    summary: notice.summary,
    markdown: notice.markdown,
    json: { kind: "incident", incident: incident.id, notice: notice.kind, seq: notice.seq, severity: incident.severity, status: incident.status, at: notice.at },
    contentHash: notice.contentHash,
  };
}

/** Plan, act, record, re-plan until nothing is left or a step fails. */
async function drive(deps: IncidentDeps, file: string, start: Incident): Promise<{ incident: Incident; actions: string[] }> {
  const now = () => (deps.now ?? (() => new Date()))().toISOString();
  const log = (line: string) => {
    lines.push(line);
    deps.log?.(line);
  };
  const lines: string[] = [];
  let incident = start;
  const save = (next: Incident) => {
    if (JSON.stringify(next) !== JSON.stringify(incident)) writeIncident(file, next);
    incident = next;
  };
  const attempted = new Set<string>();
  const failures: { key: string; error: unknown }[] = [];
  for (let round = 0; round < 5; round++) {
    const planned = planIncident(incident, await readChainView(deps, incident), { now: now(), sinks: deps.sinks.map((s) => s.id) });
    for (const s of planned.incident.steps) {
      const before = incident.steps.find((x) => x.key === s.key);
      if (!before) log(`planned: ${s.intent}`);
      if (s.result && !before?.result) log(`${s.intent}: ${s.result.status} (${s.result.detail})`);
    }
    save(planned.incident);
    let todo = planned.actions.filter((a) => !attempted.has(a.key));
    if (todo.length === 0) break;
    const onChain = todo.filter((a) => a.do !== "post");
    if (deps.builderFile && onChain.length > 0) {
      const { file: builder, safe } = await containmentBuilder(deps.setup, onChain);
      writeJsonAtomic(deps.builderFile, builder);
      for (const a of onChain) attempted.add(a.key);
      const line = `wrote ${displayPath(deps.builderFile)}: ${builder.transactions.length} call(s) for the guardian Safe ${safe}; once its owners executed it, run this command again to confirm on chain and post the notice`;
      save({ ...incident, timeline: [...incident.timeline, { at: now(), event: `Transaction Builder file for the guardian Safe ${safe}: ${onChain.map((a) => a.key).join(", ")}` }] });
      log(line);
      todo = todo.filter((a) => a.do === "post");
      if (todo.length === 0) continue;
    }
    if (!deps.builderFile) await preflight(deps, todo);
    for (const a of todo) {
      attempted.add(a.key);
      try {
        const result = await act(deps, incident, a);
        save(recordResult(incident, a.key, { status: result.already ? "already" : "done", at: now(), ...(result.tx ? { tx: result.tx } : {}), ...(result.detail ? { detail: result.detail } : {}) }, result.event));
        log(`${result.event}${result.tx ? `: tx ${result.tx}` : ""}`);
      } catch (e) {
        const reason = (e as Error).message.split("\n")[0]!;
        save(recordResult(incident, a.key, { status: "failed", at: now(), detail: reason }, `${a.key} failed: ${reason}`));
        log(`FAILED ${a.key}: ${reason}`);
        failures.push({ key: a.key, error: e });
      }
    }
  }
  if (failures.length > 0) {
    const post = failures.find((f) => f.key.startsWith("post:"));
    if (post && failures.length === 1) throw new GatehouseError("NOTICE_FAILED", { id: incident.id, sink: post.key.split(":").slice(2).join(":"), reason: (post.error as Error).message.split("\n")[0] }, { cause: post.error, details: { actions: lines } });
    throw new GatehouseError("INCIDENT_INCOMPLETE", { id: incident.id, count: failures.length, steps: failures.map((f) => f.key).join(", ") }, { details: { actions: lines } });
  }
  return { incident, actions: lines };
}

/** A refusal before anything is sent: a key that may not cancel or pause does nothing at all. */
async function preflight(deps: IncidentDeps, actions: Action[]): Promise<void> {
  const { setup } = deps;
  const guardian = needGuardian(deps);
  if (actions.some((a) => a.do === "cancel") && !((await setup.timelock.hasRole(ROLES.CANCELLER_ROLE, guardian.address)) as boolean)) {
    throw new GatehouseError("NOT_CANCELLER", { address: guardian.address, timelock: setup.deployment.timelock.address });
  }
  for (const a of actions) {
    if (a.do !== "pause") continue;
    const s = await readPauseState(setup, a.contract);
    if (s.pausable && !s.paused && s.pauser !== getAddress(guardian.address)) throw new GatehouseError("NOT_PAUSER", { address: guardian.address, contract: s.contract, proxy: s.proxy, pauser: s.pauser });
  }
}

async function act(deps: IncidentDeps, incident: Incident, a: Action): Promise<{ already?: boolean; tx?: string; detail?: string; event: string }> {
  if (a.do === "cancel") {
    const r = await cancel({ setup: deps.setup, operationId: a.operationId, guardian: needGuardian(deps) });
    return { already: r.alreadyCancelled, tx: r.tx, event: `cancelled operation ${a.operationId}` };
  }
  if (a.do === "pause") {
    const r = await pauseOne(await readPauseState(deps.setup, a.contract), needGuardian(deps));
    return { already: r.alreadyPaused, tx: r.tx, event: `paused '${a.contract}' (${r.proxy})` };
  }
  const sink = deps.sinks.find((s) => s.id === a.sink);
  if (!sink) throw new GatehouseError("USAGE", { message: `sink ${a.sink} is recorded in the incident but not configured now (policies/${incident.network}.yaml notifications)` });
  const notice = incident.notices[a.seq]!;
  const r = await sink.publish(sinkPost(incident, notice), {});
  await sink.flush?.();
  return { detail: r.remoteId ? `remote ${r.remoteId}` : undefined, event: `posted the ${notice.kind} notice to ${a.sink}` };
}

function needGuardian(deps: IncidentDeps): Actor {
  if (!deps.guardian) throw new GatehouseError("USAGE", { message: "cancelling and pausing need the guardian's key (--from or GATEHOUSE_SIGNER_KEY), or --builder-file for a guardian Safe" });
  return deps.guardian;
}

/** One Transaction Builder batch of the containment calls, for the guardian Safe that both cancels and pauses. */
async function containmentBuilder(setup: Setup, actions: Action[]): Promise<{ file: TxBuilderFile; safe: string }> {
  const canceller = actions.some((a) => a.do === "cancel") ? await guardianSafe(setup) : undefined;
  if (actions.some((a) => a.do === "cancel") && !canceller) {
    throw new GatehouseError("USAGE", { message: "--builder-file: the timelock's canceller is not a single guardian Safe; cancel with the guardian's key (--from)" });
  }
  const pausers = new Set<string>();
  for (const a of actions) if (a.do === "pause") pausers.add((await readPauseState(setup, a.contract)).pauser!);
  const safes = [...new Set([...(canceller ? [getAddress(canceller)] : []), ...pausers])];
  if (safes.length !== 1) throw new GatehouseError("USAGE", { message: `--builder-file: the cancels and pauses need different accounts (${safes.join(", ")}): one Transaction Builder file is for one guardian Safe` });
  const safe = safes[0]!;
  if ((await setup.ctx.ethers.provider.getCode(safe)) === "0x") throw new GatehouseError("USAGE", { message: `--builder-file: the guardian ${safe} is an account, not a Safe: use its key (--from)` });
  const proxies = Object.fromEntries(Object.entries(setup.deployment.proxies).map(([n, p]) => [n, getAddress(p.address)]));
  const calls = containmentCalls(actions, { timelock: getAddress(setup.deployment.timelock.address), proxies }, { cancel: encodeCancel, pause: () => pauseInterface.encodeFunctionData("pause") });
  const file = callsTxBuilderFile({
    chainId: setup.ctx.chainId,
    safe,
    name: "Gatehouse incident: contain",
    description: `Gatehouse incident containment on ${setup.ctx.network}: ${actions.map((a) => (a.do === "cancel" ? `cancel ${a.operationId}` : a.do === "pause" ? `pause ${a.contract}` : "")).join("; ")}`,
    createdAt: Date.now(),
    calls,
  });
  return { file, safe };
}

function recordResult(incident: Incident, key: string, result: Incident["steps"][number]["result"] & object, event: string): Incident {
  return { ...incident, steps: incident.steps.map((s) => (s.key === key ? { ...s, result } : s)), timeline: [...incident.timeline, { at: result.at, event }] };
}

/** The project's docs/postmortem-template.md, else the one Gatehouse ships. */
export function postmortemTemplate(root: string): string {
  const own = path.join(root, "docs/postmortem-template.md");
  return existsSync(own) ? own : path.join(packageRoot(), "docs/postmortem-template.md");
}

export interface OpenInput {
  title: string;
  severity: Incident["severity"];
  pause: string[];
  id?: string;
  detectedAt?: string;
  detectedBy?: string;
  beganAt?: string;
  nextUpdateBy?: string;
}

/** `incident open`: create the incident (or resume the one with this id) and contain. */
export async function openIncident(deps: IncidentDeps, input: OpenInput): Promise<IncidentReport> {
  const opened = (deps.now ?? (() => new Date()))();
  const id = input.id ?? incidentId(input.title, opened);
  const file = incidentFile(deps.setup.root, id);
  const existing = readIncident(file);
  if (existing?.status === "closed") throw new GatehouseError("INCIDENT_CLOSED", { id, closedAt: existing.closedAt });
  const incident: Incident =
    existing ??
    IncidentSchema.parse({
      version: 1,
      id,
      network: deps.setup.ctx.network,
      chainId: Number(deps.setup.ctx.chainId),
      title: input.title,
      severity: input.severity,
      status: "open",
      openedAt: opened.toISOString(),
      ...(input.beganAt ? { beganAt: input.beganAt } : {}),
      detectedAt: input.detectedAt ?? opened.toISOString(),
      ...(input.detectedBy ? { detectedBy: input.detectedBy } : {}),
      nextUpdateBy: input.nextUpdateBy ?? new Date(opened.getTime() + 3600_000).toISOString(),
      pauseRequested: input.pause,
      // Tagged: the operator's words are escaped wherever the timeline is rendered (the post-mortem).
      timeline: [{ at: opened.toISOString(), event: `incident opened (${input.severity}): ${untrusted(input.title)}` }],
    });
  if (!existing) writeIncident(file, incident);
  else deps.log?.(`resuming incident ${id} (${displayPath(file)})`);
  const r = await drive(deps, file, incident);
  return { file, ...r };
}

/** The incident `update`/`close` act on: `--id`, else the only open one. */
export function findIncident(root: string, id?: string): { file: string; incident: Incident } {
  if (id) {
    const file = incidentFile(root, id);
    const incident = readIncident(file);
    if (!incident) throw new GatehouseError("INCIDENT_NOT_FOUND", { file: displayPath(file), hint: "see incidents/" });
    return { file, incident };
  }
  const open = listIncidents(root).filter((x) => x.incident.status === "open");
  if (open.length === 0) throw new GatehouseError("INCIDENT_NOT_FOUND", { file: displayPath(path.join(root, "incidents")), hint: "no incident is open; name one with --id" });
  if (open.length > 1) throw new GatehouseError("INCIDENT_AMBIGUOUS", { count: open.length, ids: open.map((x) => x.incident.id).join(", ") });
  return open[0]!;
}

export async function updateIncident(deps: IncidentDeps, input: { id?: string; message: string }): Promise<IncidentReport> {
  const { file, incident } = findIncident(deps.setup.root, input.id);
  const pendingClose = incident.notices.some((n) => n.kind === "close");
  if (incident.status === "closed" && pendingClose) throw new GatehouseError("INCIDENT_CLOSED", { id: incident.id, closedAt: incident.closedAt });
  const next = addUpdate(incident, input.message, new Date().toISOString(), deps.sinks.map((s) => s.id));
  if (next !== incident) writeIncident(file, next);
  return { file, ...(await drive(deps, file, next)) };
}

/** `incident close`: the close notice, then the post-mortem draft (never overwriting an edited one). */
export async function closeIncident(deps: IncidentDeps, input: { id?: string; message?: string; template?: string }): Promise<IncidentReport> {
  const { file, incident } = input.id ? findIncident(deps.setup.root, input.id) : findIncident(deps.setup.root);
  const next = addClose(incident, input.message, (deps.now ?? (() => new Date()))().toISOString(), deps.sinks.map((s) => s.id));
  if (next !== incident) writeIncident(file, next);
  const r = await drive(deps, file, next);
  const postmortem = file.replace(/\.json$/, ".postmortem.md");
  if (existsSync(postmortem)) {
    r.actions.push(`kept ${displayPath(postmortem)} (already written; edit it by hand)`);
  } else {
    writeFileAtomic(postmortem, renderPostmortem(readFileSync(input.template ?? postmortemTemplate(deps.setup.root), "utf8"), r.incident, (t) => renderText(t, "markdown")));
    r.actions.push(`wrote the post-mortem draft ${displayPath(postmortem)}`);
  }
  return { file, ...r, postmortem };
}

