import { expect } from "chai";
import { GatehouseError } from "../../src/errors.ts";

/**
 * Awaits `p` (or calls it, for code that throws synchronously) and asserts it failed with the named
 * GatehouseError, which it returns for further checks.
 */
export async function expectGatehouseError(p: Promise<unknown> | (() => unknown), name: string): Promise<GatehouseError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(GatehouseError);
    expect((e as GatehouseError).errorName, (e as Error).message).to.equal(name);
    return e as GatehouseError;
  }
  throw new Error(`expected ${name}, but it succeeded`);
}
