/**
 * The INVOKE v3 transaction hash (SNIP-8) the devnet gives every transaction, its relayer's included: the prefixes
 * it keeps between transactions (the relayer's header, a wallet's calldata head) must never change a hash.
 * starknet.js 10.8's `hash.calculateInvokeTransactionHash` is the oracle.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { hash } from "starknet"
import { _usePlainInvokeHash, type InvokeV3Fields, invokeV3Hash, ZERO_FEE_FIELDS } from "../../src/devnet/transactions.js"
import { SN_SEPOLIA } from "../../src/Constants.js"
import { encodeShortString } from "../../src/internal/crypto/felt.js"
import { S } from "../../src/devnet/selectors.js"

const P = 2n ** 251n + 17n * 2n ** 192n + 1n
const felt = fc.bigInt({ min: 0n, max: P - 1n })
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const u128 = fc.bigInt({ min: 0n, max: 2n ** 128n - 1n })
const hex = (v: bigint) => "0x" + v.toString(16)

const oracle = (chainId: bigint, sender: bigint, nonce: bigint, calldata: ReadonlyArray<bigint>, f: InvokeV3Fields, version = 3n) =>
  BigInt(hash.calculateInvokeTransactionHash({
    senderAddress: hex(sender),
    version: hex(version) as never,
    compiledCalldata: calldata.map(hex),
    chainId: hex(chainId) as never,
    nonce: hex(nonce),
    accountDeploymentData: f.accountDeploymentData.map(hex),
    nonceDataAvailabilityMode: f.nonceDataAvailabilityMode === "L1" ? 0 : 1,
    feeDataAvailabilityMode: f.feeDataAvailabilityMode === "L1" ? 0 : 1,
    resourceBounds: {
      l1_gas: { max_amount: f.resourceBounds.l1Gas.maxAmount, max_price_per_unit: f.resourceBounds.l1Gas.maxPricePerUnit },
      l2_gas: { max_amount: f.resourceBounds.l2Gas.maxAmount, max_price_per_unit: f.resourceBounds.l2Gas.maxPricePerUnit },
      l1_data_gas: { max_amount: f.resourceBounds.l1DataGas.maxAmount, max_price_per_unit: f.resourceBounds.l1DataGas.maxPricePerUnit }
    },
    tip: f.tip,
    paymasterData: f.paymasterData.map(hex)
  }))

const bound = fc.record({ maxAmount: u64, maxPricePerUnit: u128 })
/** Fields met again (kept headers), differing in one bound or in how the paymaster data splits. */
const recurring = (l1DataPrice: bigint, paymasterData: ReadonlyArray<bigint>): InvokeV3Fields => ({
  resourceBounds: {
    l1Gas: { maxAmount: 0n, maxPricePerUnit: 0n },
    l2Gas: { maxAmount: 0x5f5e100n, maxPricePerUnit: 0n },
    l1DataGas: { maxAmount: 0n, maxPricePerUnit: l1DataPrice }
  },
  tip: 0n,
  paymasterData,
  accountDeploymentData: [],
  nonceDataAvailabilityMode: "L1",
  feeDataAvailabilityMode: "L1"
})
const fields: fc.Arbitrary<InvokeV3Fields> = fc.oneof(
  fc.constant(ZERO_FEE_FIELDS),
  fc.constantFrom(recurring(0n, []), recurring(1n, []), recurring(0n, [1n, 2n]), recurring(0n, [12n])),
  fc.record({
    resourceBounds: fc.record({ l1Gas: bound, l2Gas: bound, l1DataGas: bound }),
    tip: u64,
    paymasterData: fc.array(felt, { maxLength: 3 }),
    accountDeploymentData: fc.array(felt, { maxLength: 3 }),
    nonceDataAvailabilityMode: fc.constantFrom("L1" as const, "L2" as const),
    feeDataAvailabilityMode: fc.constantFrom("L1" as const, "L2" as const)
  })
)
/** A few senders and wallets, so that kept prefixes are met again with other nonces and calldata. */
const sender = fc.constantFrom(0x1111n, 0x2222n, P - 1n)
const wallet = fc.constantFrom(0xaaaan, 0xbbbbn)
const chainId = fc.constantFrom(encodeShortString(SN_SEPOLIA), encodeShortString("SN_MAIN"))

describe("the INVOKE v3 transaction hash", () => {
  it("is starknet.js's for a relayed execute, whatever the wallet, nonce and signed calldata (prefixes kept between them)", () => {
    fc.assert(
      fc.property(chainId, sender, wallet, u64, fc.array(felt, { maxLength: 24 }), (chain, relayer, account, nonce, outside) => {
        const calldata = [1n, account, S.execute_from_outside_v2, BigInt(outside.length), ...outside]
        expect(invokeV3Hash(chain, relayer, nonce, calldata)).toBe(oracle(chain, relayer, nonce, calldata, ZERO_FEE_FIELDS))
      }),
      { numRuns: 200 }
    )
  })

  it("is starknet.js's for any calldata, fields and version (query or not)", () => {
    fc.assert(
      fc.property(chainId, sender, u64, fc.array(felt, { maxLength: 12 }), fields, fc.constantFrom(3n, 2n ** 128n + 3n), (chain, from, nonce, calldata, f, version) => {
        expect(invokeV3Hash(chain, from, nonce, calldata, f, version)).toBe(oracle(chain, from, nonce, calldata, f, version))
      }),
      { numRuns: 200 }
    )
  })

  it("is the same hash as the formula applied in one piece (what the benchmark compares it with)", () => {
    fc.assert(
      fc.property(chainId, sender, u64, fc.array(felt, { maxLength: 12 }), fields, (chain, from, nonce, calldata, f) => {
        const specialised = invokeV3Hash(chain, from, nonce, calldata, f)
        _usePlainInvokeHash(true)
        try {
          expect(invokeV3Hash(chain, from, nonce, calldata, f)).toBe(specialised)
        } finally {
          _usePlainInvokeHash(false)
        }
      }),
      { numRuns: 100 }
    )
  })
})
