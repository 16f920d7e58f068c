/**
 * The `gatehouse` package entry. The default export is the Hardhat 3 plugin (`plugins: [gatehouse]`);
 * the named exports are the pure core (no Hardhat runtime, provider or file system is loaded by importing
 * this module, so hardhat.config.ts can import it): policy schema, planning, timelock and Safe encoding
 * and hashes, records, review rendering, errors. The chain-facing edge is `gatehouse/chain`; the CLI is
 * the `gatehouse` bin.
 */
export { default } from "./plugin/index.ts";
export type { GatehouseConfig, GatehouseUserConfig } from "./plugin/index.ts";
export * from "./errors.ts";
export * from "./policy/schema.ts";
export { loadPolicy, parsePolicy, policyPath } from "./policy/load.ts";
export * from "./plan/plan.ts";
export * from "./timelock/calls.ts";
export * from "./safe/hash.ts";
export * from "./records/proposal.ts";
export * from "./records/deployment.ts";
export * from "./review/proposal.ts";
export * from "./review/operation.ts";
export { renderPolicyYaml, type DiscoveredProject } from "./init/render.ts";
