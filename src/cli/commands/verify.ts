import type { Command } from "../main.ts";
import { finding } from "../output.ts";
import { requireArg } from "../main.ts";
import { withSetup } from "../chain.ts";
import { renderChecks, verify } from "../../pipeline/verify.ts";
import { GatehouseError } from "../../errors.ts";

const usage = "verify <proposal|operationId> [--current-build]";
const command: Command = {
  summary:
    "recompute calldata, salt, operation id, Safe hashes and shape, check the policy's targets, and compare each new implementation with the build at the proposal's commit (--current-build: the working tree's build instead, a developer option that never verifies)",
  usage,
  options: { "current-build": { type: "boolean" } },
  flags: { "current-build": { help: "compare with the current build instead of the build at the proposal's commit (never reports verified)", default: "off" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const ref = requireArg(c, 0, "the proposal (id, operation id or file)", usage);
      const r = await verify({ setup, proposal: ref, build: c.flags["current-build"] ? "current" : "commit" });
      c.out.print(renderChecks(r.checks));
      const failed = r.checks.filter((k) => !k.ok);
      const unchecked = r.checks.filter((k) => k.ok && k.unchecked).length;
      const note = unchecked > 0 ? ` (${unchecked} item(s) UNCHECKED, listed above)` : "";
      if (r.verified) c.out.print(`verified: proposal ${r.record.id} against the build of commit ${r.record.commit}${note}`);
      else if (failed.length === 0) c.out.print(`NOT verified: no mismatch against the current build of this working tree, but --current-build proves nothing about a commit${note}`);
      c.out.result({ ok: failed.length === 0, verified: r.verified, proposal: r.record.id, build: r.build, checks: r.checks });
      if (failed.length === 0) return 0;
      return finding(new GatehouseError("VERIFY_FAILED", { count: failed.length, what: `proposal ${r.record.id} (${failed.map((k) => k.name).join(", ")})` }));
    }),
};
export default command;
