import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { sign } from "../../pipeline/sign.ts";
import { renderSafeTxSummary } from "../../review/proposal.ts";

const usage = "sign <safeTxHash> [--from account:N] [--tx-service URL]";
const command: Command = {
  summary: "verify the proposal (as `gatehouse verify` does, against the build at its commit), then approve its Safe transaction as another owner (approveHash, or a signature on the service)",
  usage,
  options: { from: { type: "string" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const hash = requireArg(c, 0, "the safeTxHash", usage);
      const signer = await actorFor(c, setup.ctx, "signer", undefined);
      const r = await sign({ setup, safeTxHash: hash, signer });
      c.out.print(`verified before signing: ${r.checks.length} checks passed against the build of commit ${r.record.commit}`);
      c.out.print(renderSafeTxSummary({ record: r.record, safeTx: r.safeTx, approvals: r.approvals, threshold: r.threshold }));
      c.out.print(r.executed ? "already executed" : r.approvedNow ? `approved by ${signer.address}` : `${signer.address} had already approved`);
      c.out.result({ ok: true, ...r });
      return 0;
    }),
};
export default command;
