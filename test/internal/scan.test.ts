/**
 * Finding the transaction a payload became: the relayer's invoke calldata in the layouts paymasters publish.
 *
 * Sources of the layouts:
 * - SNIP-6 accounts (Cairo 1): `__execute__(calls: Array<Call>)`, as starknet.js `transaction.getExecuteCalldata(calls, "1")`.
 * - Cairo 0 accounts: `[call_array_len, (to, selector, data_offset, data_len)*, calldata_len, calldata…]`, as
 *   starknet.js `transaction.getExecuteCalldata(calls, "0")`.
 * - AVNU's paymaster (avnu-labs/paymaster, crates/paymaster-execution/src/execution/execute.rs): the relayer calls its
 *   forwarder, `execute_sponsored(call: Call, sponsor_metadata: Array<felt252>)` for a sponsored transaction and
 *   `execute(call: Call, gas_token_address, gas_amount: u256)` otherwise, where `call` is the user's
 *   `execute_from_outside_v2` call.
 * - SNIP-9 v2: `execute_from_outside_v2(outside_execution: OutsideExecution, signature: Span<felt252>)`, with
 *   `OutsideExecution { caller, nonce, execute_after, execute_before, calls: Span<Call> }`.
 */
import { describe, expect, it } from "vitest"
import { hash, transaction } from "starknet"
import { carries } from "../../src/internal/payments/scan.js"

const sel = (name: string) => hash.getSelectorFromName(name)
const hex = (n: bigint) => "0x" + n.toString(16)

const wallet = 0x0123456789abcdefn
const nonce = 0x6e6f6e63655f31n
const forwarder = "0x127021a1b5a52d3174c2ab077c2b043c80369250d29428cee956d76ee51584f"
const caller = forwarder
const token = "0x53c91253bc9682c04929ca02ed00b3e423f6710d2ee7e0d5ebb06f3ecf368a8"

/** The user's `execute_from_outside_v2` calldata (SNIP-9 v2). */
const outsideCalldata = (n: bigint): Array<string> => [
  caller, hex(n), "0x1", "0x7fffffff",
  "0x1", token, sel("transfer"), "0x3", "0xbeef", "0x64", "0x0",
  "0x4", "0xaaaa", "0x1", "0x2", "0x6553f100"
]
const outsideCall = (n = nonce, to = wallet) => ({ contractAddress: hex(to), entrypoint: "execute_from_outside_v2", calldata: outsideCalldata(n) })

/** A forwarder call's calldata: the user's `Call` serialised (to, selector, calldata: Array<felt252>), then `rest`. */
const forwarded = (n: bigint, rest: ReadonlyArray<string>, to = wallet) => {
  const inner = outsideCalldata(n)
  return [hex(to), sel("execute_from_outside_v2"), hex(BigInt(inner.length)), ...inner, ...rest]
}

describe("carries: the relayer's transaction that holds a payload", () => {
  it("finds it in a SNIP-6 multicall (the devnet's relayer, starknet.js Cairo 1 layout)", () => {
    const calldata = transaction.getExecuteCalldata([outsideCall()], "1").map(String)
    expect(carries(calldata, wallet, nonce)).toBe(true)
    expect(carries(calldata, wallet, nonce + 1n)).toBe(false)
    expect(carries(calldata, wallet + 1n, nonce)).toBe(false)
  })

  it("finds it behind other calls in the same multicall", () => {
    const calldata = transaction.getExecuteCalldata([
      { contractAddress: token, entrypoint: "transfer", calldata: ["0x1", "0x2", "0x0"] },
      outsideCall(0x99n, wallet + 7n),
      outsideCall()
    ], "1").map(String)
    expect(carries(calldata, wallet, nonce)).toBe(true)
  })

  it("finds it in a Cairo 0 account's multicall (starknet.js Cairo 0 layout)", () => {
    const calldata = transaction.getExecuteCalldata([outsideCall()], "0").map(String)
    expect(carries(calldata, wallet, nonce)).toBe(true)
    expect(carries(calldata, wallet, nonce + 1n)).toBe(false)
  })

  it("finds it through AVNU's forwarder, sponsored (execute_sponsored)", () => {
    const calldata = transaction.getExecuteCalldata([
      { contractAddress: forwarder, entrypoint: "execute_sponsored", calldata: forwarded(nonce, ["0x1", "0x2a"]) }
    ], "1").map(String)
    expect(carries(calldata, wallet, nonce)).toBe(true)
    expect(carries(calldata, wallet, nonce + 1n)).toBe(false)
  })

  it("finds it through AVNU's forwarder, paid in a gas token (execute)", () => {
    const calldata = transaction.getExecuteCalldata([
      { contractAddress: forwarder, entrypoint: "execute", calldata: forwarded(nonce, [token, "0x1234", "0x0"]) }
    ], "1").map(String)
    expect(carries(calldata, wallet, nonce)).toBe(true)
  })

  it("does not take a matching number elsewhere for the payload", () => {
    // The nonce's value as a transfer amount, next to an outside execution of the wallet with another nonce.
    const calldata = transaction.getExecuteCalldata([
      { contractAddress: token, entrypoint: "transfer", calldata: [hex(wallet), hex(nonce), "0x0"] },
      outsideCall(nonce + 5n)
    ], "1").map(String)
    expect(carries(calldata, wallet, nonce)).toBe(false)
    // Another wallet's outside execution with the same nonce.
    expect(carries(transaction.getExecuteCalldata([outsideCall(nonce, wallet + 1n)], "1").map(String), wallet, nonce)).toBe(false)
  })

  it("reads malformed calldata as not carrying it", () => {
    expect(carries([], wallet, nonce)).toBe(false)
    expect(carries(["0xzz", hex(wallet)], wallet, nonce)).toBe(false)
    expect(carries(["0x5", hex(wallet), sel("execute_from_outside_v2")], wallet, nonce)).toBe(false)
  })
})
