import { isAddress } from "ethers";
import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { GatehouseError } from "../../errors.ts";
import { resolveAccount } from "../../chain/context.ts";
import { addDelegate, listDelegates, removeDelegate, type Delegation } from "../../pipeline/delegate.ts";

const usage = "delegate add|remove|list [<address>] [--from account:N] [--label TEXT] [--tx-service URL]";

function render(rows: Delegation[]): string {
  if (rows.length === 0) return "no delegates for the Safe on the service";
  return rows.map((r) => `${r.delegate}  delegated by ${r.delegator}  for ${r.safe ?? "every Safe of the delegator"}  "${r.label}"${r.expiryDate ? `  until ${r.expiryDate}` : ""}`).join("\n");
}

const command: Command = {
  summary: "register (an owner signs), remove or list the Safe's delegates on the Safe Transaction Service: keys that propose but never approve",
  usage,
  options: { from: { type: "string" }, label: { type: "string" } },
  flags: {
    from: { value: "account:N|0xADDR", help: "the owner who delegates (add), or the delegator or the delegate (remove)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the first owner of the policy" },
    label: { value: "TEXT", help: "the delegate's label on the service (at most 50 characters)", default: "gatehouse CI" },
  },
  run: (c) => {
    const action = requireArg(c, 0, "the action (add, remove or list)", usage);
    if (!["add", "remove", "list"].includes(action)) throw new GatehouseError("USAGE", { message: `delegate ${action}: expected add, remove or list (usage: gatehouse ${usage})` });
    const address = action === "list" ? undefined : requireArg(c, 1, "the delegate's address", usage);
    const text = address ?? "";
    if (address !== undefined && !isAddress(address)) throw new GatehouseError("ADDRESS_INVALID", { what: "the delegate", value: text.length > 80 ? text.slice(0, 80) + "..." : text });
    return withSetup(c, async (setup) => {
      let rows: Delegation[];
      if (action === "list") rows = await listDelegates(setup);
      else {
        const signer = await actorFor(c, setup.ctx, "delegator", resolveAccount(setup.ctx, setup.policy.governance.safe.owners[0]!));
        rows =
          action === "add"
            ? await addDelegate({ setup, delegate: address!, delegator: signer, label: (c.flags.label as string | undefined) ?? "gatehouse CI" })
            : await removeDelegate({ setup, delegate: address!, signer });
        c.out.print(action === "add" ? `${signer.address} delegated ${address} for ${setup.deployment.safe.address}: it can propose, never approve` : `removed the delegate ${address}`);
      }
      c.out.print(render(rows));
      c.out.result({ ok: true, safe: setup.deployment.safe.address, delegates: rows });
      return 0;
    });
  },
};
export default command;
