import { createHash } from "node:crypto";
import type { EventAlert } from "../review/alert.ts";
import type { OperationReview } from "../review/operation.ts";
import type { Decision } from "../watch/decide.ts";

/**
 * The community review site's model (pure): the watcher's decisions (its ledger's subjects), the
 * simulations of the signer packets and the repository → one entry per operation or alert, in order of
 * urgency, with everything a page shows and a hash of it (a page is rebuilt only when its hash changes).
 * No file system, no clock: the shell reads the ledger and the packets and passes the build time in.
 */

/** One subject of the watcher's ledger, with the time the watcher last changed it. */
export interface SiteSubject {
  decision: Decision;
  updatedAt: string;
}

/** What a page shows of a simulation report (src/simulate/simulate.ts `SimulationReport`). */
export interface SimulationView {
  /** Where it came from, e.g. `proposals/sepolia/0123abcd.validation.json`. */
  file: string;
  operationId: string;
  forkBlock: number;
  steps: { name: string; ok: boolean; gasUsed: string; revert?: string | undefined }[];
  stateDiff: { accountLabel: string; slot: string; before: string; after: string; decoded?: { path: string; before: string; after: string }[] | undefined }[];
  unknownSlots: number;
  balances: { account: string; before: string; after: string; delta: string }[];
  permissions: { what: string; before: string; after: string }[];
  probes: { name: string; ok: boolean; detail: string }[];
  findings: { kind: string; message: string }[];
  notes: string[];
}

/** A packet that exists but could not be used: shown as such, never silently dropped. */
export interface SimulationProblem {
  file: string;
  problem: string;
}

export interface SiteInput {
  network: string;
  /** ISO time of the build (the index and the feed say when they were made). */
  generatedAt: string;
  subjects: SiteSubject[];
  /** Simulation of each proposal id whose signer packet exists. */
  simulations: Record<string, SimulationView | SimulationProblem>;
  /** The repository's web address when it is on GitHub (`https://github.com/owner/name`): commit and compare links. */
  repository?: string;
}

export type Urgency = "alert" | "pending" | "executed" | "cancelled" | "retracted";

export const GROUPS: { urgency: Urgency; heading: string }[] = [
  { urgency: "alert", heading: "Alerts (unexplained governance activity)" },
  { urgency: "pending", heading: "Pending (queued, by ETA)" },
  { urgency: "executed", heading: "Executed" },
  { urgency: "cancelled", heading: "Cancelled" },
  { urgency: "retracted", heading: "Retracted (reorged out)" },
];

export interface SourceLinks {
  commit: string;
  commitUrl?: string;
  /** The commit of the previous executed upgrade of the same proxy, and the compare link between them. */
  previous?: { commit: string; proposal: string; url?: string };
}

export interface SiteEntry {
  key: string;
  /** File of its page, relative to the site's root (`op/<slug>.html`). */
  page: string;
  /** File of the cancel Transaction Builder JSON (scheduled operations; relative to the root). */
  builderFile?: string;
  urgency: Urgency;
  state: string;
  severity: "review" | "alert";
  /** Tagged text (src/review/untrusted.ts): untrusted spans marked. */
  title: string;
  verdict: string;
  eta?: number;
  /** The block that orders entries of one group (newest first; pending go by ETA). */
  block: number;
  updatedAt: string;
  review?: OperationReview;
  alert?: EventAlert;
  simulation?: SimulationView | SimulationProblem;
  source?: SourceLinks;
  /** Hash of everything the entry's page and builder file depend on. */
  hash: string;
}

export interface SiteModel {
  network: string;
  generatedAt: string;
  entries: SiteEntry[];
}

/** Bump when the templates change, so an incremental build rewrites every page. */
export const TEMPLATE_VERSION = "1";

const HEX_KEY = /^op:(0x[0-9a-f]{64}):(0x[0-9a-f]{64})$/;
const COMMIT = /^[0-9a-f]{7,64}$/i;

/** A file name from a subject key: hex ids and transaction hashes only, nothing a record could choose. */
export function slugOf(key: string): string {
  const m = HEX_KEY.exec(key);
  if (m) return `${m[1]}-${m[2]!.slice(2, 10)}`;
  return key.replace(/[^0-9A-Za-z]+/g, "-").replace(/^-|-$/g, "").slice(0, 160) || "subject";
}

function urgencyOf(d: Decision): Urgency {
  if (d.state === "retracted") return "retracted";
  // A cancelled operation is settled whatever it was (its page still says ALERT); an executed one that
  // raised an alert stays on top: it ran, and someone must look at what it did.
  if (d.state === "cancelled") return "cancelled";
  if (d.severity === "alert") return "alert";
  if (d.state === "executed") return "executed";
  return "pending";
}

export function verdictOf(d: Decision): string {
  if (d.severity === "alert") return `ALERT: ${[...new Set(d.alerts.map((a) => a.kind))].join(", ")}`;
  const v = d.review?.verification.status;
  if (v === "verified") return "every check holds (proposal record, Safe signers, reviewed build)";
  if (v === "failed") return "verification FAILED";
  return "unverified: no proposal record";
}

function blockOf(d: Decision): number {
  const r = d.review;
  if (r) return (r.executed ?? r.cancelled ?? r.scheduled).block;
  return d.alert?.event.block ?? d.block;
}

const ORDER: Record<Urgency, number> = { alert: 0, pending: 1, executed: 2, cancelled: 3, retracted: 4 };

/** Alerts first (newest first), then pending by ETA (soonest first), then executed, cancelled, retracted (newest first). */
export function compareEntries(a: Pick<SiteEntry, "urgency" | "eta" | "block" | "key">, b: Pick<SiteEntry, "urgency" | "eta" | "block" | "key">): number {
  return (
    ORDER[a.urgency] - ORDER[b.urgency] ||
    (a.urgency === "pending" ? (a.eta ?? Infinity) - (b.eta ?? Infinity) : 0) ||
    b.block - a.block ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

function repositoryUrl(repository: string | undefined): string | undefined {
  // Only an https origin with an owner/name path: the value comes from the workflow, never from a record.
  return repository && /^https:\/\/[A-Za-z0-9.-]+\/[\w.-]+\/[\w.-]+$/.test(repository) ? repository : undefined;
}

/** The commit of the proposal and of the last executed upgrade of the same proxies before it. */
function sourceLinks(entry: { review?: OperationReview }, executed: { proxies: Set<string>; block: number; commit: string; proposal: string }[], repo: string | undefined): SourceLinks | undefined {
  const r = entry.review;
  const commit = r?.proposal?.commit;
  if (!r || !commit || !COMMIT.test(commit)) return undefined;
  const proxies = new Set(r.calls.flatMap((c) => (c.upgrade ? [c.upgrade.proxy.toLowerCase()] : [])));
  const prev = executed.filter((e) => e.block < r.scheduled.block && e.commit !== commit && [...proxies].some((p) => e.proxies.has(p))).sort((a, b) => b.block - a.block)[0];
  return {
    commit,
    ...(repo ? { commitUrl: `${repo}/commit/${commit}` } : {}),
    ...(prev ? { previous: { commit: prev.commit, proposal: prev.proposal, ...(repo ? { url: `${repo}/compare/${prev.commit}...${commit}` } : {}) } } : {}),
  };
}

export function buildSiteModel(input: SiteInput): SiteModel {
  const repo = repositoryUrl(input.repository);
  const executed = input.subjects.flatMap(({ decision: d }) => {
    const r = d.review;
    if (!r?.executed || !r.proposal?.commit || !COMMIT.test(r.proposal.commit)) return [];
    return [{ proxies: new Set(r.calls.flatMap((c) => (c.upgrade ? [c.upgrade.proxy.toLowerCase()] : []))), block: r.executed.block, commit: r.proposal.commit, proposal: r.proposal.id }];
  });
  const entries = input.subjects.map(({ decision: d, updatedAt }): SiteEntry => {
    const slug = slugOf(d.key);
    const urgency = urgencyOf(d);
    const review = d.review;
    const simulation = review?.proposal ? input.simulations[review.proposal.id] : undefined;
    const source = review ? sourceLinks({ review }, executed, repo) : undefined;
    const builderFile = review && d.state === "scheduled" ? `op/${slug}.cancel.json` : undefined;
    const base = {
      key: d.key,
      page: `op/${slug}.html`,
      ...(builderFile ? { builderFile } : {}),
      urgency,
      state: d.state,
      severity: d.severity,
      title: d.title,
      verdict: verdictOf(d),
      ...(d.eta !== undefined ? { eta: d.eta } : {}),
      block: blockOf(d),
      updatedAt,
      ...(review ? { review } : {}),
      ...(d.alert ? { alert: d.alert } : {}),
      ...(simulation ? { simulation } : {}),
      ...(source ? { source } : {}),
    };
    // The page depends on the decision (its content hash covers the review), the simulation and the links.
    const hash = createHash("sha256").update(JSON.stringify([TEMPLATE_VERSION, d.contentHash, d.state, d.severity, d.title, simulation ?? null, source ?? null])).digest("hex").slice(0, 16);
    return { ...base, hash };
  });
  entries.sort(compareEntries);
  return { network: input.network, generatedAt: input.generatedAt, entries };
}

/** Atom entries: one per state change of each subject (scheduled, then executed or cancelled; an alert). */
export interface FeedItem {
  id: string;
  entry: SiteEntry;
  change: string;
  updated: string;
}

export function feedItems(model: SiteModel): FeedItem[] {
  const items: FeedItem[] = [];
  for (const e of model.entries) {
    const r = e.review;
    if (r) {
      const at = r.scheduled.timestamp !== undefined ? new Date(r.scheduled.timestamp * 1000).toISOString() : e.updatedAt;
      items.push({ id: `${e.key}:scheduled`, entry: e, change: `scheduled in block ${r.scheduled.block}`, updated: isoOf(at) });
      if (r.executed) items.push({ id: `${e.key}:executed`, entry: e, change: `executed in block ${r.executed.block}`, updated: isoOf(e.updatedAt) });
      if (r.cancelled) items.push({ id: `${e.key}:cancelled`, entry: e, change: `cancelled in block ${r.cancelled.block}`, updated: isoOf(e.updatedAt) });
      if (e.state === "retracted") items.push({ id: `${e.key}:retracted`, entry: e, change: "retracted (reorged out)", updated: isoOf(e.updatedAt) });
    } else {
      items.push({ id: `${e.key}:${e.state}`, entry: e, change: e.state === "retracted" ? "retracted (reorged out)" : `alert in block ${e.block}`, updated: isoOf(e.updatedAt) });
    }
  }
  return items.sort((a, b) => (a.updated < b.updated ? 1 : a.updated > b.updated ? -1 : a.id < b.id ? -1 : 1));
}

function isoOf(value: string, fallback?: string): string {
  const t = Date.parse(value);
  return Number.isNaN(t) ? (fallback ?? new Date(0).toISOString()) : new Date(t).toISOString();
}
