#!/usr/bin/env node
// The execute workflow's step on one network: every proposal record moves one step forward where it
// can, and nothing else happens.
//  - Safe transaction approved by the threshold, not executed yet -> execute it (schedules the operation);
//  - operation Ready (ETA passed, not cancelled)                  -> execute it, then the post-upgrade checks;
//  - Waiting, cancelled, short of approvals, done                -> reported and left alone.
// Input `proposal` restricts it to one proposal. Outputs: executed, scheduled (counts), results (JSON),
// continue-rollout (true when an operation executed on the rollout's testnet).
// Fails when an execution fails or a post-upgrade check does not hold.
// Secrets (step env only): GATEHOUSE_SIGNER_KEY (pays for the transactions), GATEHOUSE_RPC_URL, SAFE_API_KEY.
// Outside Actions: node scripts/actions/execute.ts --network localhost
import { existsSync } from "node:fs";
import path from "node:path";
import { actorFor, withSetup } from "../../src/cli/chain.ts";
import { execute, type PostCheck } from "../../src/pipeline/execute.ts";
import { status, type ProposalStatus } from "../../src/pipeline/status.ts";
import { actionsIO, InputError } from "../../src/actions/io.ts";
import { executeSummaryMarkdown, planExecution, type ExecutionResult } from "../../src/actions/execute-plan.ts";
import { CONFIG_FILE, readConfig, refuseUnlessProtectedRef, txServiceFor } from "../../src/actions/config.ts";
import { commandContext, maskSecrets, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
maskSecrets(io);
await runAction(io, async () => {
  // Before any input or chain access: the key must never act for an unmerged branch.
  refuseUnlessProtectedRef("execute");
  const network = io.input("network", { required: true });
  const only = io.input("proposal") || undefined;
  const from = io.input("from") || undefined;
  const txService = txServiceFor(process.cwd(), network, io.input("tx-service") || undefined);
  const c = commandContext(io, { network, from, txService });
  const results: ExecutionResult[] = [];
  await withSetup(c, async (setup) => {
    const executor = await actorFor(c, setup.ctx, "executor", "account:0");
    const all: ProposalStatus[] = await status(setup);
    const selected = only ? all.filter((p) => p.id === only.toLowerCase() || p.operationId.toLowerCase() === only.toLowerCase()) : all;
    if (only && selected.length === 0) throw new InputError(`input proposal: no proposal '${only}' on '${network}'`);
    for (const p of selected) {
      const plan = planExecution(p);
      if (plan.action === "skip") {
        results.push({ id: p.id, operationId: p.operationId, action: "skipped", detail: plan.reason });
        io.log(`${p.id}: ${plan.reason}`);
        continue;
      }
      try {
        const r = await execute({ setup, proposal: p.id, executor, log: (l) => io.log(l) });
        const failed: PostCheck[] = (r.postChecks ?? []).filter((x) => !x.ok);
        if (r.step === "scheduled") {
          results.push({ id: p.id, operationId: p.operationId, action: "scheduled", tx: r.tx, detail: `Safe transaction executed; ETA ${new Date(Number(r.eta) * 1000).toISOString()}` });
        } else if (r.step === "execute-proposed") {
          results.push({ id: p.id, operationId: p.operationId, action: "skipped", detail: `the executor is the Safe: owners approve Safe transaction ${r.safeTx!.safeTxHash}` });
        } else {
          results.push({
            id: p.id,
            operationId: p.operationId,
            action: r.step === "executed" ? "executed" : "skipped",
            tx: r.tx,
            detail: r.step === "executed" ? "operation executed" : "already executed",
            postChecks: r.postChecks,
          });
          for (const f of failed) {
            io.annotate({ level: "error", title: `post-upgrade check: ${f.proxy}`, message: `${f.proxy} runs ${f.implementation} (expected ${f.expected}); upgrade authority ${f.authority}` });
          }
        }
      } catch (e) {
        results.push({ id: p.id, operationId: p.operationId, action: "failed", detail: e instanceof Error ? e.message : String(e) });
      }
    }
  });
  const executed = results.filter((r) => r.action === "executed").length;
  io.output("executed", executed);
  // The staged rollout: an operation executed on the testnet lets the mainnet job of stage-propose run.
  const config = existsSync(path.join(process.cwd(), CONFIG_FILE)) ? readConfig(process.cwd()) : undefined;
  io.output("continue-rollout", executed > 0 && config?.rollout.testnet === network);
  io.output("scheduled", results.filter((r) => r.action === "scheduled").length);
  io.output("results", JSON.stringify(results));
  await io.summary(executeSummaryMarkdown(network, results));
  const bad = results.filter((r) => r.action === "failed" || r.postChecks?.some((x) => !x.ok));
  if (bad.length) io.fail(`gatehouse execute on '${network}': ${bad.map((r) => `${r.id}: ${r.action === "failed" ? r.detail : "post-upgrade checks failed"}`).join("; ")}`);
});
