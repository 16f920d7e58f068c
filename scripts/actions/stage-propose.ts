#!/usr/bin/env node
// The stage-and-propose workflow's step on one network: stage (deploy what changed, write the proposal
// record; refuses an unsafe upgrade) then propose (the Safe transaction that schedules it on the
// timelock: to the Safe Transaction Service when one is configured, else approveHash on chain).
// Idempotent: running it again finds the same record and the same Safe transaction.
// Outputs: up-to-date, staged, proposal-id, proposal-file, operation-id, safe-tx-hash, domain-hash,
// message-hash, safe-link, approvals, threshold, packet-file. The job summary carries the hashes, the Safe link
// and the signer packet (proposals/<network>/<id>.validation.md: the simulated state diff).
// Secrets (step env only): GATEHOUSE_SIGNER_KEY, GATEHOUSE_RPC_URL, SAFE_API_KEY.
// Outside Actions: node scripts/actions/stage-propose.ts --network localhost
import path from "node:path";
import { actorFor, withSetup } from "../../src/cli/chain.ts";
import { resolveAccount } from "../../src/chain/context.ts";
import { isGatehouseError } from "../../src/errors.ts";
import { stage } from "../../src/pipeline/stage.ts";
import { propose } from "../../src/pipeline/propose.ts";
import type { Finding } from "../../src/check/audit.ts";
import { findingAnnotations } from "../../src/actions/check-report.ts";
import { actionsIO, InputError } from "../../src/actions/io.ts";
import { proposalSummaryMarkdown, safeLink } from "../../src/actions/proposal-summary.ts";
import { refuseUnlessProtectedRef, txServiceFor } from "../../src/actions/config.ts";
import { commandContext, maskSecrets, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
maskSecrets(io);
await runAction(io, async () => {
  // Before any input or chain access: the key must never act for an unmerged branch.
  refuseUnlessProtectedRef("stage and propose");
  const network = io.input("network", { required: true });
  const viaInput = io.input("via");
  // Checked before anything is deployed: a bad input must not leave a half-done stage behind.
  if (viaInput && viaInput !== "service" && viaInput !== "onchain") throw new InputError(`input via: '${viaInput}': expected 'service' or 'onchain'`);
  const from = io.input("from") || undefined;
  const txService = txServiceFor(process.cwd(), network, io.input("tx-service") || undefined);
  const c = commandContext(io, { network, from, txService });
  await withSetup(c, async (setup) => {
    const deployer = await actorFor(c, setup.ctx, "deployer", "account:0");
    let staged;
    try {
      staged = await stage({ setup, deployer, log: (l) => io.log(l) });
    } catch (e) {
      if (isGatehouseError(e, "CHECK_FAILED")) {
        for (const a of findingAnnotations((e.details.findings as Finding[]) ?? [], network)) io.annotate(a);
        await io.summary(String(e.details.report ?? ""));
      }
      throw e;
    }
    if (!staged.proposal) {
      io.output("up-to-date", true);
      io.output("staged", false);
      await io.summary(`## Gatehouse on \`${network}\`: up to date\n\nEvery governed proxy already runs its target contract; nothing to stage or propose.\n`);
      return;
    }
    const { record } = staged.proposal;
    io.output("up-to-date", false);
    io.output("staged", true);
    io.output("proposal-id", record.id);
    io.output("proposal-file", path.relative(process.cwd(), staged.proposal.file));
    io.output("operation-id", record.operationId);

    const via = (viaInput || (setup.service ? "service" : "onchain")) as "service" | "onchain";
    const proposer = await actorFor(c, setup.ctx, "proposer", resolveAccount(setup.ctx, setup.policy.governance.safe.owners[0]!));
    let r;
    try {
      r = await propose({ setup, proposal: record.id, proposer, via });
    } catch (e) {
      // The simulation found something: nothing was proposed, and the packet says what and why.
      if (isGatehouseError(e, "SIMULATION_FINDINGS")) await io.summary(String(e.details.markdown ?? ""));
      throw e;
    }
    const link = safeLink({ chainId: r.record.chainId, safe: r.safeTx.safe, safeTxHash: r.safeTx.safeTxHash, serviceUrl: txService });
    io.output("safe-tx-hash", r.safeTx.safeTxHash);
    io.output("domain-hash", r.safeTx.domainHash);
    io.output("message-hash", r.safeTx.messageHash);
    io.output("safe-link", link ?? "");
    io.output("approvals", r.approvals.length);
    io.output("threshold", r.threshold);
    const status = r.alreadyScheduled
      ? "already scheduled"
      : r.created
        ? `proposed, ${r.approvals.length} of ${r.threshold} approvals`
        : `already proposed, ${r.approvals.length} of ${r.threshold} approvals`;
    io.log(`${network}: proposal ${record.id} ${status}; safeTxHash ${r.safeTx.safeTxHash}`);
    if (r.packet) io.output("packet-file", path.relative(process.cwd(), r.packet.file));
    // The signer packet (what the batch does, simulated on a fork) right under the hashes.
    await io.summary([proposalSummaryMarkdown({ network, record: r.record, safeTx: r.safeTx, approvals: r.approvals, threshold: r.threshold, link, status }), r.packet?.markdown ?? "No signer packet: the operation has already executed."].join("\n"));
  });
});
