import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { ec, hash } from "starknet"
import * as stark from "../../src/internal/crypto/stark.js"

// The run-time crypto comes from @scure/starknet without starknet.js; starknet.js 10.8 is the oracle here.
const felt = fc.bigInt({ min: 0n, max: 2n ** 251n - 1n })

describe("Stark crypto without starknet.js", () => {
  it.prop("an entrypoint's selector is starknet.js's getSelectorFromName", [fc.string({ maxLength: 40 })], ([name]) => {
    expect(stark.selectorOfName(name)).toBe(BigInt(hash.getSelectorFromName(name)))
  })

  it("known selectors", () => {
    // Published: the selector of `transfer` on every ERC-20 on Starknet; `__execute__` of every account.
    expect(stark.selectorOfName("transfer")).toBe(0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12en)
    expect(stark.selectorOfName("__execute__")).toBe(0x15d40a3d6ca2ac30f4031e42be28da9b056fef9bb7357ac5e85627ee876e5adn)
  })

  it.prop(
    "a deployed contract's address is starknet.js's calculateContractAddressFromHash",
    [felt, felt, fc.array(felt, { maxLength: 4 }), felt],
    ([salt, classHash, calldata, deployer]) => {
      const expected = hash.calculateContractAddressFromHash(salt, classHash, calldata.map(String), deployer)
      expect(stark.contractAddressFromHash(salt, classHash, calldata, deployer)).toBe(BigInt(expected))
    },
    { fastCheck: { numRuns: 20 } }
  )

  it.prop("signatures are starknet.js's and verify with it", [fc.bigInt({ min: 1n, max: stark.CURVE_ORDER - 1n }), felt], ([key, msg]) => {
    const bytes = Uint8Array.from(Buffer.from(key.toString(16).padStart(64, "0"), "hex"))
    const ours = stark.sign(msg, bytes)
    const theirs = ec.starkCurve.sign("0x" + msg.toString(16), bytes)
    expect([ours.r, ours.s]).toEqual([theirs.r, theirs.s])
    const publicKey = stark.publicKeyOf(bytes)
    expect(publicKey).toBe(BigInt(ec.starkCurve.getStarkKey(bytes)))
    expect(stark.verify(msg, ours.r, ours.s, publicKey)).toBe(true)
  }, { fastCheck: { numRuns: 10 } })
})
