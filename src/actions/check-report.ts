import { z } from "zod";
import type { Finding } from "../check/audit.ts";
import type { Annotation } from "./io.ts";

/**
 * Pure: what the PR workflow makes of `gatehouse check` results. Each finding becomes an error
 * annotation on its Solidity file and line; every network's report becomes one section of a single PR
 * comment, found again on the next push by a hidden marker and edited in place.
 */

export const CHECK_COMMENT_MARKER = "<!-- gatehouse:check -->";
/** GitHub refuses comment bodies above 65,536 characters. */
export const MAX_COMMENT_CHARS = 65_000;

export function findingAnnotations(findings: Finding[], network: string): Annotation[] {
  return findings.map((f) => ({
    level: "error",
    title: `gatehouse check (${network}): ${f.rule} in '${f.proxy}'`,
    message: `${f.message}\nRemedy: ${f.remedy}`,
    file: f.file,
    line: f.line,
  }));
}

/** One network's result, as the check job writes it (`.gatehouse/check/<network>.json`) for the comment job. */
export const CheckArtifact = z
  .object({
    network: z.string(),
    ok: z.boolean(),
    findingCount: z.number().int().nonnegative(),
    /** The Markdown report (storage layout diff per proxy); absent when the check could not run. */
    markdown: z.string().optional(),
    /** Why the check could not run (bad policy, unreachable RPC, nothing deployed, ...). */
    error: z.string().optional(),
    commit: z.string().nullable().optional(),
    /**
     * The upgrade the PR would stage, simulated on a fork (src/simulate/pr.ts): `ran` (its findings are
     * in findingCount and its expected diff in markdown), `not-run` (why in `reason`: said plainly in
     * the comment), `nothing-to-stage` (every proxy already runs its target).
     */
    simulation: z.object({ status: z.enum(["ran", "not-run", "nothing-to-stage"]), findingCount: z.number().int().nonnegative(), reason: z.string().optional() }).strict().optional(),
  })
  .strict();
export type CheckArtifact = z.infer<typeof CheckArtifact>;

export function artifactVerdict(a: CheckArtifact | undefined): string {
  if (!a) return "no report (the check job stopped before writing one)";
  if (a.error) return `could not run: ${a.error}`;
  const sim = a.simulation;
  const simulated = !sim ? "" : sim.status === "ran" ? (sim.findingCount ? `, ${sim.findingCount} in the simulation` : "; simulated: expected diff below") : sim.status === "not-run" ? `; NOT simulated (${sim.reason ?? "unknown reason"})` : "";
  return a.ok ? `PASS${simulated}` : `FAIL: ${a.findingCount} finding${a.findingCount === 1 ? "" : "s"}${simulated}`;
}

/**
 * The PR comment: the marker, a verdict table, then each network's report in a <details> block that is
 * open when it failed. Networks expected but without a report are listed as such, never silently left
 * out. Too long a body keeps the table and points at the run's job summaries instead.
 */
export function checkCommentBody(input: { expected: string[]; artifacts: CheckArtifact[]; commit?: string; runUrl?: string }): string {
  const byNetwork = new Map(input.artifacts.map((a) => [a.network, a]));
  const networks = [...new Set([...input.expected, ...byNetwork.keys()])].sort();
  const failing = networks.filter((n) => !byNetwork.get(n)?.ok);
  const head = [
    CHECK_COMMENT_MARKER,
    `## Gatehouse upgrade check: ${failing.length === 0 ? "PASS" : "FAIL"}`,
    "",
    [input.commit ? `Commit \`${input.commit}\`` : undefined, input.runUrl ? `[workflow run](${input.runUrl})` : undefined].filter(Boolean).join(" · "),
    "",
    "| Network | Result |",
    "| --- | --- |",
    ...networks.map((n) => `| \`${n}\` | ${artifactVerdict(byNetwork.get(n)).replace(/\|/g, "\\|").replace(/\r?\n/g, " ")} |`),
    "",
  ];
  const sections = networks.flatMap((n) => {
    const a = byNetwork.get(n);
    if (!a?.markdown) return [];
    return [`<details${a.ok ? "" : " open"}><summary>Report for <code>${n}</code></summary>`, "", a.markdown.trim(), "", "</details>", ""];
  });
  const full = [...head, ...sections].join("\n");
  if (full.length <= MAX_COMMENT_CHARS) return full;
  const note = `The full reports are too long for a comment; read them in the job summaries${input.runUrl ? ` of the [workflow run](${input.runUrl})` : ""}.`;
  return [...head, note, ""].join("\n");
}
