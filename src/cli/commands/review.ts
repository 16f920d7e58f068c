import { writeFileAtomic } from "../../fs/atomic.ts";
import { GatehouseError } from "../../errors.ts";
import { loadOperationReviews } from "../../watch/review-source.ts";
import { withSetup } from "../chain.ts";
import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";

const usage = "review <operationId> [--from-block N] [--out FILE] [--json]";
const command: Command = {
  summary: "render the community review of one timelock operation: decoded calls, verification, ETA, cancel path (exit 1 on an alert)",
  usage,
  options: { "from-block": { type: "string" }, out: { type: "string" } },
  run: async (c) => {
    const operationId = requireArg(c, 0, "the operation id", usage);
    if (!/^0x[0-9a-fA-F]{64}$/.test(operationId)) throw new GatehouseError("USAGE", { message: `operation id '${operationId}': expected a 0x-prefixed 32-byte hex value (usage: gatehouse ${usage})` });
    const fromFlag = c.flags["from-block"] as string | undefined;
    if (fromFlag !== undefined && !/^\d+$/.test(fromFlag)) throw new GatehouseError("USAGE", { message: `--from-block '${fromFlag}': expected a block number` });
    return withSetup(c, async (setup) => {
      const reviews = await loadOperationReviews(setup, operationId, fromFlag !== undefined ? { fromBlock: Number(fromFlag) } : {});
      const latest = reviews.at(-1)!;
      const markdown = reviews.map((r) => r.rendered.markdown).join("\n---\n\n");
      const out = c.flags.out as string | undefined;
      if (out) {
        writeFileAtomic(out, markdown);
        c.out.log(`wrote ${out}`);
      }
      c.out.print(markdown);
      c.out.result({ ok: latest.decision.severity !== "alert", reviews: reviews.map((r) => r.rendered.json) });
      return latest.decision.severity === "alert" ? 1 : 0;
    });
  },
};
export default command;
