import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { GatehouseError } from "../../errors.ts";
import { displayPath } from "../../fs/atomic.ts";
import { propose } from "../../pipeline/propose.ts";
import { renderSafeTxSummary } from "../../review/proposal.ts";
import { resolveAccount } from "../../chain/context.ts";
import type { ProposeResult } from "../../pipeline/propose.ts";

/** What propose did, in words (pure). A delegate's proposal approves nothing: the owners must sign. */
export function proposeOutcome(r: Pick<ProposeResult, "alreadyScheduled" | "approvedNow" | "asDelegate" | "safeTx" | "approvals" | "threshold">, proposer: string): string[] {
  if (r.alreadyScheduled) return ["already scheduled on the timelock: nothing proposed"];
  const where = r.safeTx.via === "service" ? "to the Safe Transaction Service, signed by" : "on chain, approved (approveHash) by";
  const lines = [
    !r.approvedNow
      ? `already proposed: the same Safe transaction ${r.safeTx.safeTxHash}, nothing new`
      : r.asDelegate
        ? `proposed to the Safe Transaction Service by the delegate ${proposer}, not an owner: its signature approves nothing`
        : `proposed ${where} ${proposer}`,
  ];
  if (r.asDelegate) lines.push(`${r.approvals.length} of ${r.threshold} approvals: the owners must sign (gatehouse sign ${r.safeTx.safeTxHash} --from <owner>)`);
  return lines;
}

const usage = "propose <proposal> [--via service|onchain] [--tx-service URL] [--from account:N]";
const command: Command = {
  summary: "build, check and approve the Safe transaction that schedules a proposal",
  usage,
  options: { via: { type: "string" }, from: { type: "string" } },
  flags: { via: { value: "service|onchain", help: "submit to a Safe Transaction Service, or approve on chain (approveHash)", default: "service when one is configured, else onchain" }, from: { value: "account:N|0xADDR", help: "the account that acts (a key the network holds)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the role's default account" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const ref = requireArg(c, 0, "the proposal (id, operation id or file)", usage);
      // The service is the default path when one is configured; on chain otherwise.
      const via = (c.flags.via as string | undefined) ?? (setup.service ? "service" : "onchain");
      if (via !== "onchain" && via !== "service") throw new GatehouseError("USAGE", { message: `--via ${via}: expected 'service' or 'onchain'` });
      const proposer = await actorFor(c, setup.ctx, "proposer", resolveAccount(setup.ctx, setup.policy.governance.safe.owners[0]!));
      const r = await propose({ setup, proposal: ref, proposer, via });
      c.out.print(renderSafeTxSummary({ record: r.record, safeTx: r.safeTx, approvals: r.approvals, threshold: r.threshold, cancelFile: r.cancelFile }));
      for (const line of proposeOutcome(r, proposer.address)) c.out.print(line);
      if (r.packet) {
        const e = r.packet.packet.effects;
        c.out.print(`signer packet ${displayPath(r.packet.file)} (and ${displayPath(r.packet.markdownFile)}): ${e.changes.length} storage change(s), ${e.permissions.length} permission change(s), ${e.probes.filter((p) => p.ok).length}/${e.probes.length} probe(s) pass; state-diff hash ${r.packet.packet.effectsHash}`);
      }
      c.out.result({ ok: true, ...r });
      return 0;
    }),
};
export default command;
