import path from "node:path";
import { readdirSync, existsSync } from "node:fs";
import { z } from "zod";
import { parseWith } from "../policy/load.ts";
import { displayPath, readJsonIfExists, writeJsonAtomic } from "../fs/atomic.ts";

/**
 * incidents/<id>.json: one incident, written atomically after every step. Each containment step is
 * recorded as an intent before it is acted on and gets its result after, so a run cut off anywhere
 * resumes from the file (re-checking the chain and the sinks before acting again).
 */
export const Severity = z.enum(["low", "medium", "high", "critical"]);

export const StepResult = z
  .object({
    status: z.enum(["done", "already", "failed", "skipped"]),
    at: z.string(),
    tx: z.string().optional(),
    detail: z.string().optional(),
  })
  .strict();

export const IncidentStep = z
  .object({
    /** `cancel:<operationId>`, `pause:<contract>`, `post:<notice seq>:<sink id>`. */
    key: z.string(),
    kind: z.enum(["cancel", "pause", "post"]),
    target: z.string(),
    notice: z.number().int().nonnegative().optional(),
    intent: z.string(),
    plannedAt: z.string(),
    result: StepResult.optional(),
  })
  .strict();

export const Notice = z
  .object({
    seq: z.number().int().nonnegative(),
    kind: z.enum(["open", "update", "close"]),
    at: z.string(),
    /** Tagged text (src/review/untrusted.ts): the operator's words are untrusted spans, escaped per sink. */
    title: z.string(),
    summary: z.string(),
    markdown: z.string(),
    contentHash: z.string(),
  })
  .strict();

export const Incident = z
  .object({
    version: z.literal(1),
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    network: z.string(),
    chainId: z.number().int(),
    title: z.string().min(1),
    severity: Severity,
    status: z.enum(["open", "closed"]),
    openedAt: z.string(),
    /** When the problem began, when it was detected and by what (operator's claims, shown as such). */
    beganAt: z.string().optional(),
    detectedAt: z.string(),
    detectedBy: z.string().optional(),
    /** When the next update is due, as the open notice promised. */
    nextUpdateBy: z.string().optional(),
    /** The contracts `open` was asked to pause. */
    pauseRequested: z.array(z.string()).default([]),
    /** Set once the containment intents (every operation pending then, the pauses) are recorded. */
    containmentPlanned: z.boolean().default(false),
    closedAt: z.string().optional(),
    steps: z.array(IncidentStep).default([]),
    notices: z.array(Notice).default([]),
    timeline: z.array(z.object({ at: z.string(), event: z.string() }).strict()).default([]),
  })
  .strict();

export type Incident = z.infer<typeof Incident>;
export type IncidentStep = z.infer<typeof IncidentStep>;
export type Notice = z.infer<typeof Notice>;
export type StepResult = z.infer<typeof StepResult>;

export function incidentsDir(root: string): string {
  return path.join(root, "incidents");
}

export function incidentFile(root: string, id: string): string {
  return path.join(incidentsDir(root), `${id}.json`);
}

export function readIncident(file: string): Incident | undefined {
  const data = readJsonIfExists(file);
  return data === undefined ? undefined : parseWith(Incident, data, displayPath(file));
}

export function writeIncident(file: string, incident: Incident): void {
  writeJsonAtomic(file, Incident.parse(incident));
}

export function listIncidents(root: string): { file: string; incident: Incident }[] {
  const dir = incidentsDir(root);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ file: path.join(dir, f), incident: readIncident(path.join(dir, f))! }));
}

/** A stable id from the day and the title: re-running `incident open` with the same title resumes it. */
export function incidentId(title: string, openedAt: Date): string {
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  return `${openedAt.toISOString().slice(0, 10).replaceAll("-", "")}-${slug || "incident"}`;
}
