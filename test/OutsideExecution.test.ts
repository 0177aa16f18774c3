import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { typedData } from "starknet"
import { Constants, OutsideExecution, Schemas } from "starknet-session-keys"

const account = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const STRK = Constants.STARKNET_CONTRACTS.STRK.contractAddress
const vector: OutsideExecution.OutsideExecution = {
  caller: Constants.ANY_CALLER,
  nonce: "0x1" as Schemas.Felt,
  executeAfter: 1n,
  executeBefore: 1893456000n,
  calls: [{ to: STRK, selector: Schemas.selectorOf("transfer"), calldata: ["0xabc", "0x64", "0x0"] as Array<Schemas.Felt> }]
}

describe("type hashes", () => {
  it("match the spec and starknet.js", () => {
    const td = OutsideExecution.toTypedData("SN_SEPOLIA", vector)
    expect(OutsideExecution.DOMAIN_TYPE_HASH).toBe(BigInt(typedData.getTypeHash(td.types as any, "StarknetDomain", "1" as any)))
    expect(OutsideExecution.OUTSIDE_EXECUTION_TYPE_HASH).toBe(
      BigInt(typedData.getTypeHash(td.types as any, "OutsideExecution", "1" as any))
    )
    expect(OutsideExecution.CALL_TYPE_HASH).toBe(BigInt(typedData.getTypeHash(td.types as any, "Call", "1" as any)))
    expect(OutsideExecution.OUTSIDE_EXECUTION_TYPE_HASH).toBe(0x312b56c05a7965066ddbda31c016d8d05afc305071c0ca3cdc2192c3c2f1f0fn)
  })

  it("the spec's selectors are starknet_keccak of their names", () => {
    for (const [name, selector] of Object.entries(Constants.SELECTORS)) {
      expect(Schemas.selectorOf(name)).toBe(selector)
    }
  })
})

describe("message hash", () => {
  it("reproduces the published vector", () => {
    expect(OutsideExecution.messageHash(Constants.SN_SEPOLIA, account, vector)).toBe(
      "0x5d4e4d026b6df81a9f032344b042a91fc45a40efda8739817856a1f2951837b"
    )
    // The chain id as its short string hashes the same.
    expect(OutsideExecution.messageHash("SN_SEPOLIA", account, vector)).toBe(
      "0x5d4e4d026b6df81a9f032344b042a91fc45a40efda8739817856a1f2951837b"
    )
  })

  it("typed data with the version written as the character '2' gives the spec's wrong hash", () => {
    const td = OutsideExecution.toTypedData("SN_SEPOLIA", vector)
    expect(OutsideExecution.typedDataHash(td, account)).toBe(
      "0x5d4e4d026b6df81a9f032344b042a91fc45a40efda8739817856a1f2951837b"
    )
    // '2' as the ASCII character 0x32 is a different domain, so a different (and refused) hash.
    const wrong = { ...td, domain: { ...td.domain, version: "0x32" } }
    expect(OutsideExecution.typedDataHash(wrong, account)).toBe(
      "0x4003c16cd6ef0f52e0878118efdc8571929bc4fd8e6c57fca17da9e9bc894cd"
    )
  })

  const felt = (max: bigint) => fc.bigInt({ min: 0n, max: max - 1n }).map((n) => "0x" + n.toString(16) as Schemas.Felt)
  const P = 2n ** 251n + 17n * 2n ** 192n + 1n
  const arbitraryOE = fc.record({
    caller: fc.oneof(fc.constant(Constants.ANY_CALLER), felt(2n ** 251n)),
    nonce: felt(P),
    executeAfter: fc.bigInt({ min: 0n, max: 2n ** 64n }),
    executeBefore: fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
    calls: fc.array(
      fc.record({
        to: felt(2n ** 251n),
        selector: fc.oneof(fc.constantFrom("transfer", "approve", "swap_exact").map(Schemas.selectorOf), felt(P)),
        calldata: fc.array(felt(P), { maxLength: 6 })
      }),
      { minLength: 1, maxLength: 4 }
    )
  })

  it.prop("equals starknet.js typedData.getMessageHash on random outside executions (u128 and felt forms)", [
    arbitraryOE,
    felt(2n ** 251n),
    fc.constantFrom(Constants.SN_MAIN, Constants.SN_SEPOLIA)
  ], ([oe, address, chainId]) => {
    const td = OutsideExecution.toTypedData(chainId, oe)
    expect(OutsideExecution.messageHash(chainId, address, oe)).toBe(
      "0x" + BigInt(typedData.getMessageHash(td as any, address)).toString(16)
    )
    expect(OutsideExecution.typedDataHash(td, address)).toBe(OutsideExecution.messageHash(chainId, address, oe))
    const feltTypes = {
      ...td,
      types: {
        ...td.types,
        OutsideExecution: td.types["OutsideExecution"]!.map((m) => m.type === "u128" ? { ...m, type: "felt" } : m)
      }
    }
    expect(OutsideExecution.messageHash(chainId, address, oe, "felt")).toBe(
      "0x" + BigInt(typedData.getMessageHash(feltTypes as any, address)).toString(16)
    )
  }, { fastCheck: { numRuns: 25 } })

  it.prop("typed data round-trips through its wire shape", [arbitraryOE], ([oe]) => {
    const { chainId, outsideExecution } = OutsideExecution.fromTypedData(OutsideExecution.toTypedData("SN_MAIN", oe))
    expect(chainId).toBe(Constants.SN_MAIN)
    expect(outsideExecution).toEqual(oe)
  }, { fastCheck: { numRuns: 50 } })
})

describe("calldata", () => {
  it("add_or_update_session_key is [key, valid_until, max_calls, n, selectors...]", () => {
    const config = Schemas.decodeSync(Schemas.SessionConfig)({
      sessionPublicKey: "0x99",
      validUntil: 1000,
      maxCalls: 3,
      allowedEntrypoints: ["transfer", "approve"]
    })
    expect(OutsideExecution.addOrUpdateSessionKeyCalldata(config)).toEqual([
      "0x99",
      "0x3e8",
      "0x3",
      "0x2",
      Constants.SELECTORS.transfer,
      Constants.SELECTORS.approve
    ])
  })

  it("execute_from_outside_v2 submission calldata follows the spec and parses back", () => {
    const signature = OutsideExecution.sessionSignature("0x5e55", { r: 7n, s: 9n }, 1893456000)
    expect(signature).toEqual(["0x5e55", "0x7", "0x9", "0x70dbd880"])
    const calldata = OutsideExecution.executeFromOutsideCalldata(vector, signature)
    expect(calldata).toEqual([
      Constants.ANY_CALLER,
      "0x1",
      "0x1",
      "0x70dbd880",
      "0x1",
      STRK,
      Constants.SELECTORS.transfer,
      "0x3",
      "0xabc",
      "0x64",
      "0x0",
      "0x4",
      ...signature
    ])
    expect(OutsideExecution.parseExecuteFromOutsideCalldata(calldata)).toEqual({
      outsideExecution: { ...vector, calls: [{ ...vector.calls[0]!, to: STRK }] },
      signature
    })
    expect(OutsideExecution.parseExecuteFromOutsideCalldata(calldata.slice(0, -1))).toBeUndefined()
  })

  it("the direct-path hash is poseidon over account, chain, nonce, valid_until and flattened calls", () => {
    const h = OutsideExecution.directSessionHash(account, Constants.SN_SEPOLIA, 3n, 1000n, vector.calls)
    const { ec } = require("starknet") as typeof import("starknet")
    const expected = ec.starkCurve.poseidonHashMany([
      BigInt(account),
      BigInt(Constants.SN_SEPOLIA),
      3n,
      1000n,
      BigInt(STRK),
      BigInt(Constants.SELECTORS.transfer),
      3n,
      0xabcn,
      0x64n,
      0n
    ])
    expect(h).toBe("0x" + expected.toString(16))
  })
})
