/**
 * Input edges refused at the boundary with typed errors, and hashing edges read as starknet.js (the oracle) reads
 * them: a PIN that is empty or not a string, a negative mint or one past u256, a relayer that is no address, a
 * typed-data selector written in decimal, an outside-execution nonce written `0b1`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { typedData } from "starknet"
import { Devnet, Errors, OutsideExecution, Sessions } from "starknet-session-keys"
import { createClient } from "starknet-session-keys/promise"
import { atRealisticTime, PIN, registeredSession, TestLayer, transfer, USDC } from "./helpers/lifecycle.js"

describe("the devnet refuses what it cannot hold", () => {
  it.effect("an empty PIN or a PIN given as a number: InvalidInput, no wallet", () =>
    Effect.gen(function*() {
      const devnet = yield* Devnet.Devnet
      for (const encryptKey of ["", 1234 as never, undefined as never]) {
        const refused = yield* Effect.flip(devnet.createWallet({ encryptKey }))
        expect(refused).toBeInstanceOf(Errors.InvalidInput)
        expect(refused.path).toBe("encryptKey")
      }
      expect(yield* Effect.flip(devnet.createWallet({ encryptKey: PIN, fund: { USDC: -1n } }))).toBeInstanceOf(Errors.InvalidInput)
    }).pipe(Effect.provide(TestLayer())))

  it("the Promise client: an empty or numeric PIN rejects with InvalidInput, never a TypeError", async () => {
    const client = createClient()
    try {
      for (const encryptKey of ["", 1234 as never]) {
        await expect(client.devnet!.createWallet({ encryptKey })).rejects.toBeInstanceOf(Errors.InvalidInput)
      }
    } finally {
      await client.close()
    }
  })

  it.effect("a negative mint, or one that would take a balance past 2^256 - 1: InvalidInput, nothing minted", () =>
    Effect.gen(function*() {
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 5n } })
      const negative = yield* Effect.flip(devnet.mint(USDC, wallet.publicKey, -10n))
      expect(negative).toBeInstanceOf(Errors.InvalidInput)
      const max = 2n ** 256n - 1n
      expect(yield* Effect.flip(devnet.mint(USDC, wallet.publicKey, max))).toBeInstanceOf(Errors.InvalidInput)
      yield* devnet.mint(USDC, wallet.publicKey, max - 5n)
      expect(yield* devnet.balanceOf(USDC, wallet.publicKey)).toBe(max)
      expect(yield* Effect.flip(devnet.mint(USDC, wallet.publicKey, 1n))).toBeInstanceOf(Errors.InvalidInput)
      expect(yield* devnet.balanceOf(USDC, wallet.publicKey)).toBe(max)
    }).pipe(Effect.provide(TestLayer())))
})

describe("options checked before anything is sent", () => {
  it.effect("relayer \"zz\": InvalidInput naming options.relayer, nothing sent", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 2 })
      const before = (yield* devnet.transactions).length
      const refused = yield* Effect.either(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }, { relayer: "zz" }))
      expect(Either.isLeft(refused) && refused.left).toBeInstanceOf(Errors.InvalidInput)
      expect(Either.isLeft(refused) && (refused.left as Errors.InvalidInput).path).toBe("options.relayer")
      expect((yield* devnet.transactions).length).toBe(before)
    }).pipe(Effect.provide(TestLayer())))
})

describe("typed-data edges hash as starknet.js hashes them", () => {
  const account = "0x" + "ab".repeat(31)
  const base = OutsideExecution.toTypedData("SN_SEPOLIA", {
    caller: "0x414e595f43414c4c4552" as never,
    nonce: "0x1" as never,
    executeAfter: 100n,
    executeBefore: 200n,
    calls: [{ to: USDC as never, selector: "0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e" as never, calldata: ["0x1" as never] }]
  })
  const oracle = (td: OutsideExecution.OutsideExecutionTypedData) => "0x" + BigInt(typedData.getMessageHash(td as never, account)).toString(16)
  const ours = (td: OutsideExecution.OutsideExecutionTypedData) => "0x" + BigInt(OutsideExecution.typedDataHash(td, account)).toString(16)

  it("a selector written in decimal names an entrypoint (starknet.js prepareSelector)", () => {
    const td = { ...base, message: { ...base.message, Calls: [{ ...base.message.Calls[0]!, Selector: "123" }] } }
    expect(ours(td)).toBe(oracle(td))
  })

  it("a nonce written 0b1, 0o7, or with spaces is that integer (starknet.js getHex)", () => {
    for (const Nonce of ["0b1", "0o7", " 12 ", "0X1f"]) {
      const td = { ...base, message: { ...base.message, Nonce } }
      expect(ours(td)).toBe(oracle(td))
    }
  })
})
