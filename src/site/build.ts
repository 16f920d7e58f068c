import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { GatehouseError } from "../errors.ts";
import { displayPath, removeStaleTempFiles, toJson, writeFileAtomic } from "../fs/atomic.ts";
import { untagData } from "../review/untrusted.ts";
import { Ledger } from "../watch/ledger.ts";
import { FAVICON_SVG, SITE_CSS, SITE_JS } from "./assets.ts";
import { buildSiteModel, type SimulationProblem, type SimulationView, type SiteModel, type SiteSubject } from "./model.ts";
import { operationsJson, renderEntryPage, renderFeed, renderIndex, renderNetworksIndex } from "./render.ts";

/**
 * `gatehouse site --out DIR` (and `watch --follow --site DIR` after each step): the thin shell around
 * the pure site core. Reads the watcher's ledger and the signer packets, builds the model, and writes
 * every file atomically. Incremental: a manifest in DIR keeps each page's hash, and only pages whose
 * operation changed (or that are missing) are rendered and written again; the index, the feeds and the
 * assets are small and always rewritten.
 */
export const MANIFEST = ".gatehouse-site.json";

export interface SiteBuildResult {
  out: string;
  entries: number;
  /** Pages (and cancel files) written this time; the rest were unchanged. */
  written: number;
  unchanged: number;
  removed: number;
  /** Signer packets that exist but could not be read. */
  problems: string[];
}

export interface SiteBuildOptions {
  /** The watcher's ledger (SQLite), or the subjects already read from one. */
  ledger: string | Ledger;
  root: string;
  network: string;
  out: string;
  repository?: string;
  /** Build time (tests and the bench fix it). */
  now?: Date;
}

/**
 * The parts of a signer packet (src/simulate/packet.ts, written by propose) the site shows: how the
 * pinned simulation ran and what it changed. Read leniently (display only: `verify` is what checks a
 * packet), and a malformed one is named on the page rather than stopping the build.
 */
const simulationSchema = z.object({
  operationId: z.string(),
  run: z.object({
    forkBlock: z.number(),
    steps: z.array(z.object({ name: z.string(), ok: z.boolean(), gasUsed: z.string(), revert: z.string().optional() })),
    notes: z.array(z.string()),
  }),
  stateChanges: z.array(z.object({ accountLabel: z.string(), slot: z.string(), variable: z.string().nullable(), before: z.string(), after: z.string(), bookkeeping: z.boolean() })),
  unknownSlots: z.number(),
  balances: z.array(z.object({ account: z.string(), before: z.string(), after: z.string(), delta: z.string() })),
  permissions: z.array(z.object({ what: z.string(), before: z.string(), after: z.string() })),
  probes: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })),
  findings: z.array(z.object({ kind: z.string(), message: z.string() })),
});

/** The simulation of a proposal's signer packet, if the packet exists (another part of Gatehouse writes them). */
export function readSimulation(root: string, network: string, proposalId: string): SimulationView | SimulationProblem | undefined {
  if (!/^[\w.-]+$/.test(proposalId)) return undefined;
  const rel = `proposals/${network}/${proposalId}.validation.json`;
  const file = path.join(root, rel);
  if (!existsSync(file)) return undefined;
  let packet: unknown;
  try {
    packet = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    return { file: rel, problem: `not valid JSON (${(e as Error).message})` };
  }
  const parsed = simulationSchema.safeParse(packet);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { file: rel, problem: `${issue.path.join(".") || "(root)"}: ${issue.message}` };
  }
  const p = parsed.data;
  return {
    file: rel,
    operationId: p.operationId,
    forkBlock: p.run.forkBlock,
    steps: p.run.steps,
    stateDiff: p.stateChanges.map((c) => ({ accountLabel: c.accountLabel, slot: c.variable ?? c.slot, before: c.before, after: c.after })),
    unknownSlots: p.unknownSlots,
    balances: p.balances,
    permissions: p.permissions,
    probes: p.probes,
    findings: p.findings,
    notes: p.run.notes,
  };
}

export function readSubjects(ledger: string | Ledger): SiteSubject[] {
  if (typeof ledger !== "string") return ledger.allSubjects().map((s) => ({ decision: s.decision, updatedAt: s.updatedAt }));
  if (!existsSync(ledger)) throw new GatehouseError("FILE_NOT_FOUND", { file: displayPath(ledger), what: "the watcher's ledger: run `gatehouse watch` first, or pass --db" });
  const l = new Ledger(ledger);
  try {
    return readSubjects(l);
  } finally {
    l.close();
  }
}

export function siteModelFrom(o: SiteBuildOptions): SiteModel {
  const subjects = readSubjects(o.ledger);
  const simulations: Record<string, SimulationView | SimulationProblem> = {};
  for (const s of subjects) {
    const id = s.decision.review?.proposal?.id;
    if (id === undefined || id in simulations) continue;
    const sim = readSimulation(o.root, o.network, id);
    if (sim) simulations[id] = sim;
  }
  return buildSiteModel({ network: o.network, generatedAt: (o.now ?? new Date()).toISOString(), subjects, simulations, ...(o.repository ? { repository: o.repository } : {}) });
}

function readManifest(out: string): Record<string, string> {
  try {
    const m = JSON.parse(readFileSync(path.join(out, MANIFEST), "utf8")) as { pages?: Record<string, string> };
    return m.pages && typeof m.pages === "object" ? m.pages : {};
  } catch {
    return {};
  }
}

export function buildSite(o: SiteBuildOptions): SiteBuildResult {
  const out = path.resolve(o.out);
  removeStaleTempFiles(out);
  removeStaleTempFiles(path.join(out, "op"));
  const model = siteModelFrom(o);
  const before = readManifest(out);
  const pages: Record<string, string> = {};
  let written = 0;
  let unchanged = 0;
  for (const e of model.entries) {
    pages[e.page] = e.hash;
    if (before[e.page] === e.hash && existsSync(path.join(out, e.page)) && (!e.builderFile || existsSync(path.join(out, e.builderFile)))) {
      unchanged++;
      continue;
    }
    // The cancel file is the review's (src/proposal/derive.ts cancelArtifact), written as `gatehouse cancel --builder-file` writes it;
    // an operation no longer scheduled keeps none to download.
    if (e.builderFile && e.review) {
      writeFileAtomic(path.join(out, e.builderFile), toJson(untagData(e.review.cancel.txBuilder)));
      written++;
    } else if (before[e.page] !== undefined) rmSync(path.join(out, e.page.replace(/\.html$/, ".cancel.json")), { force: true });
    writeFileAtomic(path.join(out, e.page), renderEntryPage(e, model.network));
    written++;
  }
  let removed = 0;
  for (const page of Object.keys(before)) {
    if (page in pages || !/^op\/[\w-]+\.html$/.test(page)) continue;
    rmSync(path.join(out, page), { force: true });
    rmSync(path.join(out, page.replace(/\.html$/, ".cancel.json")), { force: true });
    removed++;
  }
  writeAssets(out);
  writeFileAtomic(path.join(out, "index.html"), renderIndex(model));
  writeFileAtomic(path.join(out, "feed.xml"), renderFeed(model));
  writeFileAtomic(path.join(out, "operations.json"), toJson(operationsJson(model)));
  // GitHub Pages would run Jekyll over the folder otherwise.
  writeFileAtomic(path.join(out, ".nojekyll"), "");
  writeFileAtomic(path.join(out, MANIFEST), toJson({ version: 1, pages }));
  const problems = Object.values(model.entries.flatMap((e) => (e.simulation && "problem" in e.simulation ? [`${e.simulation.file}: ${e.simulation.problem}`] : []))).filter((p, i, a) => a.indexOf(p) === i);
  return { out, entries: model.entries.length, written, unchanged, removed, problems };
}

function writeAssets(out: string): void {
  writeFileAtomic(path.join(out, "assets/site.css"), SITE_CSS);
  writeFileAtomic(path.join(out, "assets/site.js"), SITE_JS);
  writeFileAtomic(path.join(out, "assets/favicon.svg"), FAVICON_SVG);
}

/**
 * The root of a multi-network site (`DIR/index.html` linking `DIR/<network>/`). Every network's job
 * writes the same file from the same list, so their outputs can be merged into one Pages artifact.
 */
export function writeNetworksIndex(dir: string, networks: string[], now = new Date()): void {
  writeAssets(dir);
  writeFileAtomic(path.join(dir, "index.html"), renderNetworksIndex(networks, now.toISOString().replace(/\.\d{3}Z$/, "Z")));
  writeFileAtomic(path.join(dir, ".nojekyll"), "");
}
