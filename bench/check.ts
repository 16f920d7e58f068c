import { deployed } from "../test/helpers/fixture.ts";
import { runCheck } from "../src/pipeline/check.ts";
import type { Table } from "./table.ts";

/**
 * `gatehouse check` (compile, then the audit: storage layout, upgrade safety, forbidden constructs
 * reachable from any entry point, `_authorizeUpgrade`, inline allowances, policy rules) beside the bare
 * work it builds on: Hardhat's compile and OpenZeppelin's `validateUpgrade` of each governed proxy
 * against its target. Both run warm (the contracts already built, each tool's own cache filled by one
 * unmeasured run), several times, alternating which goes first; the median counts.
 */
const RUNS = 11;
const COLD_RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ms = (x: number) => (x < 1000 ? `${x.toFixed(0)} ms` : `${(x / 1000).toFixed(2)} s`);

export async function checkBenchmark(log: (line: string) => void): Promise<Table[]> {
  const d = await deployed();
  try {
    const { ctx, policy, deployment } = d.setup;
    const bare: number[] = [];
    const check: number[] = [];
    const runBare = async () => {
      const t = performance.now();
      await ctx.build();
      for (const c of policy.contracts) {
        const factory = await ctx.ethers.getContractFactory(c.contract);
        await ctx.up.validateUpgrade(deployment.proxies[c.name]!.address, factory, { kind: c.kind, unsafeAllow: policy.rules.unsafeAllow });
      }
      bare.push(performance.now() - t);
    };
    const cold: number[] = [];
    const runGatehouse = async () => {
      const t = performance.now();
      const r = await runCheck(d.setup);
      check.push(performance.now() - t);
      if (r.findings.length > 0) throw new Error(`check found ${r.findings.length} finding(s) on the honest V2s`);
    };
    // Warm both (the first bare run builds hardhat-upgrades' cache, the first check its validation cache).
    await runBare();
    await runGatehouse();
    bare.length = check.length = cold.length = 0;
    for (let i = 0; i < RUNS; i++) {
      // Alternating which goes first, so neither always runs right after the other's GC or file reads.
      if (i % 2 === 0) {
        await runBare();
        await runGatehouse();
      } else {
        await runGatehouse();
        await runBare();
      }
      log(`  run ${i + 1}/${RUNS}: bare ${ms(bare.at(-1)!)}, check ${ms(check.at(-1)!)}`);
    }
    // The same without the persistent caches (a check's first run on a new build), after the comparison
    // so that its garbage does not land in the runs above.
    for (let i = 0; i < COLD_RUNS; i++) {
      const t = performance.now();
      await runCheck(d.setup, { cache: null });
      cold.push(performance.now() - t);
    }
    const b = median(bare);
    return [
      {
        title: `check vs bare compile + OZ validateUpgrade (${policy.contracts.length} proxies, warm build, ${RUNS} alternating runs each)`,
        columns: [
          { header: "what" },
          { header: "runs", align: "right" },
          { header: "median", align: "right" },
          { header: "min", align: "right" },
          { header: "max", align: "right" },
          { header: "vs bare (median)", align: "right" },
          { header: "vs bare (min)", align: "right" },
        ],
        rows: [bare, check, cold].map((xs, k) => [
          ["bare: hardhat build + validateUpgrade per proxy", "gatehouse check", "gatehouse check, caches not used (first check of a build)"][k]!,
          String(xs.length),
          ms(median(xs)),
          ms(Math.min(...xs)),
          ms(Math.max(...xs)),
          `${(median(xs) / b).toFixed(2)}×`,
          `${(Math.min(...xs) / Math.min(...bare)).toFixed(2)}×`,
        ]),
        notes: [
          "Goal: check ≤ 1.2× the bare work. check also walks every function reachable from each entry point (npm libraries included) and reads the live implementation's build unit.",
          "check keeps upgrades-core's validation of each build unit, and its audits, in the user's cache directory, keyed by the sha256 of the build-info files, the chain facts, the policy rules and Gatehouse's and upgrades-core's code (src/check/cache.ts); the last row is a check without them (first check of a build, or an unwritable cache directory).",
        ],
      },
    ];
  } finally {
    await d.close();
  }
}

// `node bench/check.ts`: this benchmark alone.
if (process.argv[1] && (await import("node:path")).resolve(process.argv[1]) === import.meta.filename) {
  const { renderTable } = await import("./table.ts");
  for (const t of await checkBenchmark((l) => console.error(l))) console.log(`\n${renderTable(t)}`);
}
