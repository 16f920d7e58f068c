import type { Command } from "../main.ts";
import { requireArg, requireHash } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { sign } from "../../pipeline/sign.ts";
import { renderSafeTxSummary } from "../../review/proposal.ts";

const usage = "sign <safeTxHash> [--from account:N] [--tx-service URL]";
const command: Command = {
  summary: "approve a proposed Safe transaction as another owner (approveHash, or a signature on the service)",
  usage,
  options: { from: { type: "string" } },
  flags: { from: { value: "account:N|0xADDR", help: "the account that acts (a key the network holds)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the role's default account" } },
  run: (c) => {
    const hash = requireHash(requireArg(c, 0, "the safeTxHash", usage), "safeTxHash");
    return withSetup(c, async (setup) => {
      const signer = await actorFor(c, setup.ctx, "signer", undefined);
      const r = await sign({ setup, safeTxHash: hash, signer });
      c.out.print(renderSafeTxSummary({ record: r.record, safeTx: r.safeTx, approvals: r.approvals, threshold: r.threshold }));
      c.out.print(r.executed ? "already executed" : r.approvedNow ? `approved by ${signer.address}` : `${signer.address} had already approved`);
      c.out.result({ ok: true, ...r });
      return 0;
    });
  },
};
export default command;
