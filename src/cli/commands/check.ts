import type { Command } from "../main.ts";
import { finding } from "../output.ts";
import { progressOn, withSetup } from "../chain.ts";
import { runCheck } from "../../pipeline/check.ts";
import { gitCommit } from "../../pipeline/stage.ts";
import { writeFileAtomic } from "../../fs/atomic.ts";
import { GatehouseError } from "../../errors.ts";

const command: Command = {
  summary: "compile and audit every governed contract against what is deployed (exit 1 on any finding)",
  usage: "check [--network NAME] [--json] [--report FILE]",
  options: { report: { type: "string" } },
  flags: { report: { value: "FILE", help: "also write the Markdown report to FILE", default: "stdout only" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      // 5-11 s of compiling is otherwise silent: say so on a terminal (stderr keeps stdout for the report).
      const progress = progressOn(c);
      const result = await runCheck(setup, { commit: gitCommit(c.root), progress });
      const report = c.flags.report as string | undefined;
      if (report) writeFileAtomic(report, result.markdown);
      c.out.print(result.markdown);
      c.out.result(result.json);
      if (result.findings.length === 0) return 0;
      return finding(new GatehouseError("CHECK_FAILED", { count: result.findings.length }));
    }),
};
export default command;
