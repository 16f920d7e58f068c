/**
 * `npm run bench`: builds the contracts, runs every benchmark and prints its tables on stdout (progress
 * goes to stderr). Exits non-zero when a benchmark fails, e.g. a flow whose operations did not reach
 * the expected timelock state, so the printed numbers always describe working flows.
 *
 *   npm run bench                          all sizes (1, 5, 20), scheduling and executing
 *   npm run bench -- --sizes 1,5           other sizes
 *   npm run bench -- --no-execute          scheduling only
 *   npm run bench -- --only tx-service,check   only the benchmarks whose name starts with one of these words
 */
import { parseArgs } from "node:util";
import hre from "hardhat";
import { measureScheduleGas, scheduleGasTables } from "./gas-schedule.ts";
import { benchService, serviceBenchTables } from "./service.ts";
import { watchBenchmark } from "./watch.ts";
import { verifyBenchmark } from "./verify.ts";
import { checkBenchmark } from "./check.ts";
import { simulateBenchmark } from "./simulate.ts";
import { incidentBenchmark } from "./incident.ts";
import { siteBenchmark } from "./site.ts";
import { renderTable, type Table } from "./table.ts";

interface Benchmark {
  name: string;
  run(log: (line: string) => void): Promise<Table[]>;
}

const { values: args } = parseArgs({
  options: { sizes: { type: "string", default: "1,5,20" }, "no-execute": { type: "boolean", default: false }, only: { type: "string" } },
});
const sizes = args.sizes.split(",").map((s) => Number(s.trim()));
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error(`--sizes: expected comma-separated positive integers, got '${args.sizes}'`);
  process.exit(2);
}

const all: Benchmark[] = [
  {
    name: "gas: scheduling upgrades through the Safe (scheduleBatch vs schedule each)",
    run: async (log) => scheduleGasTables(await measureScheduleGas({ sizes, execute: !args["no-execute"], log })),
  },
  {
    name: "tx-service throughput: proposals and confirmations (1 and 16 concurrent clients)",
    run: async (log) => serviceBenchTables(await benchService({ log })),
  },
  {
    name: "watcher: detection latency in --follow and catch-up over 100,000 blocks",
    run: (log) => watchBenchmark(log),
  },
  { name: "verify: at a commit, beside a bare hardhat build of it", run: (log) => verifyBenchmark(log) },
  { name: "check: beside a bare compile + OZ validateUpgrade of the same contracts", run: (log) => checkBenchmark(log) },
  { name: "simulate: N upgrades beside a bare eth_call, fork requests with and without the per-block cache", run: (log) => simulateBenchmark(sizes, log) },
  { name: "incident: time to contain, and the drill on a fork", run: (log) => incidentBenchmark(log) },
  { name: "review site: full and incremental build for 1,000 operations", run: (log) => siteBenchmark(log) },
];

const only = args.only?.split(",").map((w) => w.trim()).filter((w) => w !== "");
const benchmarks = only ? all.filter((b) => only.some((w) => b.name.startsWith(w))) : all;
if (benchmarks.length === 0) {
  console.error(`--only: no benchmark name starts with '${args.only}' (names: ${all.map((b) => b.name.split(":")[0]).join(", ")})`);
  process.exit(2);
}

const log = (line: string) => console.error(line);
const started = performance.now();
log("building contracts...");
await hre.tasks.getTask("build").run({ quiet: true, noTests: true });

let failed = 0;
for (const bench of benchmarks) {
  log(`running ${bench.name}`);
  try {
    const tables = await bench.run(log);
    for (const table of tables) console.log(`\n${renderTable(table)}`);
  } catch (e) {
    failed++;
    console.error(`\nFAILED: ${bench.name}\n  ${(e as Error).message}`);
    const cause = (e as Error).cause;
    if (cause instanceof Error && cause.stack) console.error(cause.stack.split("\n").slice(0, 6).join("\n"));
  }
}
log(`\n${benchmarks.length - failed} of ${benchmarks.length} benchmark(s) passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = failed === 0 ? 0 : 1;
