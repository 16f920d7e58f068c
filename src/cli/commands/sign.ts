import type { Command } from "../main.ts";
import { requireArg, requireHash } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { exportTypedData, sign, submitSignature } from "../../pipeline/sign.ts";
import { renderSafeTxSummary } from "../../review/proposal.ts";
import { GatehouseError } from "../../errors.ts";

const usage = "sign <safeTxHash> [--from account:N | --export-typed-data FILE | --signature 0x…] [--tx-service URL]";
const command: Command = {
  summary: "verify the proposal (as `gatehouse verify` does, against the build at its commit), then approve its Safe transaction as another owner (approveHash, or a signature on the service)",
  usage,
  options: { from: { type: "string" }, "export-typed-data": { type: "string" }, signature: { type: "string" } },
  flags: {
    from: { value: "account:N|0xADDR", help: "the account that acts (a key the network holds)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the role's default account" },
    "export-typed-data": { value: "FILE", help: "after verifying, write the EIP-712 typed data to sign with a wallet elsewhere (no key used)", default: "sign with --from" },
    signature: { value: "0xSIG", help: "after verifying, submit a 65-byte signature made elsewhere; it must recover to an owner", default: "sign with --from" },
  },
  run: (c) => {
    const hash = requireHash(requireArg(c, 0, "the safeTxHash", usage), "safeTxHash");
    const exportFile = c.flags["export-typed-data"] as string | undefined;
    const signature = c.flags.signature as string | undefined;
    if ([exportFile, signature, c.flags.from].filter((x) => x !== undefined).length > 1) {
      throw new GatehouseError("USAGE", { message: `--from, --export-typed-data and --signature are three ways to sign: give one (usage: gatehouse ${usage})` });
    }
    return withSetup(c, async (setup) => {
      if (exportFile) {
        const r = await exportTypedData({ setup, safeTxHash: hash, file: exportFile });
        c.out.print(`verified: ${r.checks.length} checks passed against the build of commit ${r.record.commit}`);
        c.out.print(`wrote ${exportFile}: the EIP-712 typed data of ${r.safeTx.safeTxHash} (domain hash ${r.safeTx.domainHash}, message hash ${r.safeTx.messageHash}); compare them on the wallet, then \`gatehouse sign ${r.safeTx.safeTxHash} --signature 0x…\``);
        c.out.result({ ok: true, file: exportFile, safeTxHash: r.safeTx.safeTxHash, typedData: r.typedData, checks: r.checks });
        return 0;
      }
      if (signature) {
        const r = await submitSignature({ setup, safeTxHash: hash, signature });
        c.out.print(`verified: ${r.checks.length} checks passed against the build of commit ${r.record.commit}`);
        c.out.print(r.executed ? "already executed" : r.addedNow ? `accepted the signature of owner ${r.owner} (${r.safeTx.via === "service" ? "confirmed on the Safe Transaction Service" : "saved in the proposal record"}): ${r.approvals.length} of ${r.threshold}` : `owner ${r.owner} had already approved: ${r.approvals.length} of ${r.threshold}`);
        c.out.result({ ok: true, owner: r.owner, addedNow: r.addedNow, approvals: r.approvals, threshold: r.threshold, executed: r.executed });
        return 0;
      }
      const signer = await actorFor(c, setup.ctx, "signer", undefined);
      const r = await sign({ setup, safeTxHash: hash, signer });
      c.out.print(`verified before signing: ${r.checks.length} checks passed against the build of commit ${r.record.commit}`);
      c.out.print(renderSafeTxSummary({ record: r.record, safeTx: r.safeTx, approvals: r.approvals, threshold: r.threshold }));
      c.out.print(r.executed ? "already executed" : r.approvedNow ? `approved by ${signer.address}` : `${signer.address} had already approved`);
      c.out.result({ ok: true, ...r });
      return 0;
    });
  },
};
export default command;
