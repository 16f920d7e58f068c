import { writeFileAtomic } from "../../fs/atomic.ts";
import { GatehouseError, isGatehouseError } from "../../errors.ts";
import { loadOperationReviews } from "../../watch/review-source.ts";
import { withSetup } from "../chain.ts";
import type { Command } from "../main.ts";
import { requireArg, requireHash } from "../main.ts";

const usage = "review <operationId> [--from-block N] [--out FILE] [--json]";
const command: Command = {
  summary: "render the community review of one timelock operation: decoded calls, verification, ETA, cancel path (exit 1 on an alert)",
  usage,
  options: { "from-block": { type: "string" }, out: { type: "string" } },
  flags: { "from-block": { value: "N", help: "search CallScheduled events from this block", default: "the timelock's creation block" }, out: { value: "FILE", help: "also write the Markdown review to FILE", default: "stdout only" } },
  run: async (c) => {
    const operationId = requireArg(c, 0, "the operation id", usage);
    requireHash(operationId, "operation id");
    const fromFlag = c.flags["from-block"] as string | undefined;
    if (fromFlag !== undefined && !/^\d+$/.test(fromFlag)) throw new GatehouseError("USAGE", { message: `--from-block '${fromFlag}': expected a block number` });
    return withSetup(c, async (setup) => {
      let reviews;
      try {
        reviews = await loadOperationReviews(setup, operationId, fromFlag !== undefined ? { fromBlock: Number(fromFlag) } : {});
      } catch (e) {
        // review-source.ts (src/watch) reports an operation never scheduled as USAGE ("the command line was
        // not understood"); it is a well-formed id that names nothing on this chain.
        if (isGatehouseError(e, "USAGE") && e.message.startsWith("no operation ")) throw new GatehouseError("OPERATION_UNKNOWN", { detail: e.message }, { cause: e });
        throw e;
      }
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
