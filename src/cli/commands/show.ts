import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";
import { withSetup } from "../chain.ts";
import { show } from "../../pipeline/show.ts";
import { renderSignerView } from "../../safe/inspect.ts";

const usage = "show <safeTxHash|proposal> [--tx-service URL]";
const command: Command = {
  summary: "read-only: everything a signer compares with a hardware wallet (fields, EIP-712 hashes recomputed, encoded message, decoded calls) and warnings for anything unusual",
  usage,
  run: (c) => {
    const ref = requireArg(c, 0, "a safeTxHash or a proposal id", usage);
    return withSetup(c, async (setup) => {
      const r = await show(setup, ref);
      for (const t of r.transactions) c.out.print([`# ${t.source}`, renderSignerView(t.view), ""].join("\n"));
      if (r.note) c.out.print(r.note);
      c.out.result({ ok: true, ...r });
      return 0;
    });
  },
};
export default command;
