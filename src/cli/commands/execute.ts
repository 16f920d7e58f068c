import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { execute } from "../../pipeline/execute.ts";
import { formatDuration } from "../../timelock/calls.ts";
import { latestTimestamp } from "../../pipeline/setup.ts";

const usage = "execute <proposal> [--from account:N] [--tx-service URL]";
const command: Command = {
  summary: "execute the approved Safe transaction, then the timelock operation once its ETA has passed",
  usage,
  options: { from: { type: "string" } },
  flags: { from: { value: "account:N|0xADDR", help: "the account that acts (a key the network holds)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the role's default account" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const ref = requireArg(c, 0, "the proposal (id, operation id or file)", usage);
      const executor = await actorFor(c, setup.ctx, "executor", "account:0");
      const r = await execute({ setup, proposal: ref, executor });
      if (r.step === "scheduled") {
        const left = r.eta! - (await latestTimestamp(setup.ctx));
        c.out.print(`Safe transaction executed (${r.tx}): operation ${r.record.operationId} is scheduled; ETA ${new Date(Number(r.eta) * 1000).toISOString()} (${formatDuration(left)} from now)`);
      } else if (r.step === "execute-proposed") {
        c.out.print(`the executor role belongs to the Safe: owners approve Safe transaction ${r.safeTx!.safeTxHash} with \`gatehouse sign\`, then run execute again`);
      } else {
        c.out.print(`${r.step === "executed" ? `operation executed (${r.tx})` : "operation was already executed"}; post-upgrade checks:`);
        for (const p of r.postChecks ?? []) c.out.print(`  ${p.ok ? "ok  " : "FAIL"} ${p.proxy}: implementation ${p.implementation} (expected ${p.expected}), upgrade authority ${p.authority}`);
        for (const g of r.governanceChecks ?? []) c.out.print(`  ${g.ok ? "ok  " : "FAIL"} ${g.action}: ${g.detail}`);
      }
      const failed = r.postChecks?.some((p) => !p.ok) || r.governanceChecks?.some((g) => !g.ok);
      c.out.result({ ok: !failed, ...r });
      return failed ? 1 : 0;
    }),
};
export default command;
