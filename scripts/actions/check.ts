#!/usr/bin/env node
// `gatehouse check` for the PR workflow: the Markdown report (storage layout diff per proxy) goes to the
// job summary, each finding becomes an error annotation on its Solidity file and line, the result is
// written to <report-dir>/<network>.json for the PR comment, and the step fails on any finding.
// Outside Actions: node scripts/actions/check.ts --network localhost
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { withSetup } from "../../src/cli/chain.ts";
import { runCheck } from "../../src/pipeline/check.ts";
import { gitCommit } from "../../src/pipeline/stage.ts";
import { findingAnnotations, type CheckArtifact } from "../../src/actions/check-report.ts";
import { actionsIO } from "../../src/actions/io.ts";
import { commandContext, maskSecrets, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
maskSecrets(io);
await runAction(io, async () => {
  const network = io.input("network", { required: true });
  const reportDir = io.input("report-dir", { fallback: ".gatehouse/check" });
  const root = process.cwd();
  // The PR audit runs this from the base checkout on the PR's sources: it names the PR's commit.
  const commit = io.input("commit") || gitCommit(root);
  const write = (a: CheckArtifact) => {
    mkdirSync(reportDir, { recursive: true });
    writeFileSync(path.join(reportDir, `${network}.json`), JSON.stringify(a, null, 2) + "\n");
  };
  let artifact: CheckArtifact;
  try {
    const result = await withSetup(commandContext(io, { network, root }), (setup) => runCheck(setup, { commit }));
    artifact = { network, ok: result.findings.length === 0, findingCount: result.findings.length, markdown: result.markdown, commit };
    for (const a of findingAnnotations(result.findings, network)) io.annotate(a);
    await io.summary(result.markdown);
  } catch (e) {
    // The comment job still learns why this network has no report.
    write({ network, ok: false, findingCount: 0, error: e instanceof Error ? e.message : String(e), commit });
    throw e;
  }
  write(artifact);
  io.output("finding-count", artifact.findingCount);
  io.output("ok", artifact.ok);
  if (!artifact.ok) io.fail(`gatehouse check on '${network}': ${artifact.findingCount} finding(s); see the annotations and the job summary`);
});
