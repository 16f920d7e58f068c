#!/usr/bin/env node
// `gatehouse check` for the PR workflow: the Markdown report (storage layout diff per proxy) goes to the
// job summary, each finding becomes an error annotation on its Solidity file and line; when the check
// passes, the upgrade stage would make is simulated on a fork and its expected state diff joins the
// report (or the report says plainly why it could not be simulated); the result is
// written to <report-dir>/<network>.json for the PR comment, and the step fails on any finding.
// Outside Actions: node scripts/actions/check.ts --network localhost
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { withSetup } from "../../src/cli/chain.ts";
import { runCheck } from "../../src/pipeline/check.ts";
import { GatehouseError } from "../../src/errors.ts";
import { simulatePrUpgrade } from "../../src/simulate/pr.ts";
import { renderExpectedDiff } from "../../src/simulate/packet.ts";
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
    artifact = await withSetup(commandContext(io, { network, root }), async (setup) => {
      const result = await runCheck(setup, { commit });
      for (const a of findingAnnotations(result.findings, network)) io.annotate(a);
      // The upgrade stage would make, simulated on a fork: its expected state diff goes in the comment.
      let simulation: CheckArtifact["simulation"];
      let markdown = result.markdown;
      if (result.findings.length > 0) simulation = { status: "not-run", findingCount: 0, reason: "the check found problems; stage would refuse this upgrade" };
      else {
        try {
          const sim = await simulatePrUpgrade(setup, result, { commit });
          if (!sim) simulation = { status: "nothing-to-stage", findingCount: 0 };
          else {
            simulation = { status: "ran", findingCount: sim.report.findings.length };
            markdown = `${markdown.trimEnd()}\n\n${renderExpectedDiff(sim.report, sim.record, setup.deployment.timelock.address, setup.deployment.safe.address)}\n`;
          }
        } catch (e) {
          if (!(e instanceof GatehouseError) || e.exitCode === 1) throw e;
          simulation = { status: "not-run", findingCount: 0, reason: `${e.code}: ${e.message}` };
          markdown = `${markdown.trimEnd()}\n\n#### Not simulated\n\nThe upgrade this PR would stage could not be simulated here (${e.code}: ${e.message}); no expected state diff is shown. \`gatehouse verify\` simulates it again before anyone signs.\n`;
        }
      }
      const count = result.findings.length + (simulation?.findingCount ?? 0);
      return { network, ok: count === 0, findingCount: count, markdown, commit, ...(simulation ? { simulation } : {}) } satisfies CheckArtifact;
    });
    await io.summary(artifact.markdown ?? "");
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
