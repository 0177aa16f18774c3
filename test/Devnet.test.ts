import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Constants, Devnet, Errors, OutsideExecution, Paymaster, Schemas, StarknetRpc } from "starknet-session-keys"
import * as stark from "../src/internal/crypto/stark.js"
import {
  call,
  layer,
  ownerCall,
  register,
  sessionKey,
  signOutside,
  start,
  status,
  submit,
  transfer,
  USDC,
  viewCall,
  wallet,
  nextBlock
} from "./helpers/chain.js"

const BOB = "0xb0b"

/** A wallet with a registered session valid for an hour. */
const setup = (maxCalls = 5n, allowed: ReadonlyArray<string> = [], seed = 777n) =>
  Effect.gen(function*() {
    yield* start
    const devnet = yield* Devnet.Devnet
    const w = yield* wallet
    const s = sessionKey(seed)
    const validUntil = BigInt(yield* devnet.blockTimestamp) + 3600n
    yield* register(w.address, w.owner, s.publicKey, validUntil, maxCalls, allowed)
    return { devnet, w, s, validUntil, signer: { key: s.key, session: { validUntil } } }
  })

const UNAUTHORIZED = "Session: unauthorized selector"

/** The 4-felt session signature over the direct-path hash. */
const directSignature = (account: string, chainId: string, nonce: bigint, calls: ReadonlyArray<OutsideExecution.OutsideCall>, key: Uint8Array, validUntil: bigint) => {
  const h = BigInt(OutsideExecution.directSessionHash(account, chainId, nonce, validUntil, calls))
  const { r, s } = stark.sign(h, key)
  return [stark.publicKeyOf(key), r, s, validUntil].map((v) => "0x" + BigInt(v).toString(16))
}

describe("session rules on execute_from_outside_v2", () => {
  it.effect("a max_calls = 1 session is usable exactly once", () =>
    Effect.gen(function*() {
      const { w, signer } = yield* setup(1n)
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer)).ok).toBe(true)
      yield* nextBlock
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer)).reason).toBe(UNAUTHORIZED)
    }).pipe(Effect.provide(layer())))

  it.effect("expiry is checked against block time: usable up to valid_until, refused after", () =>
    Effect.gen(function*() {
      const { w, signer, devnet, validUntil } = yield* setup()
      yield* TestClock.adjust(`${Number(validUntil) - (yield* devnet.blockTimestamp) - 5} seconds`)
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { before: validUntil + 100n })).ok).toBe(true)
      yield* TestClock.adjust("10 seconds")
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { before: validUntil + 100n })).reason).toBe(UNAUTHORIZED)
    }).pipe(Effect.provide(layer())))

  it.effect("every blocklisted selector is refused, whatever the target", () =>
    Effect.gen(function*() {
      const { w, signer } = yield* setup(100n, [...Constants.BLOCKLISTED_ENTRYPOINTS, "transfer"])
      for (const name of Constants.BLOCKLISTED_ENTRYPOINTS) {
        for (const target of [w.address, USDC]) {
          expect((yield* submit(w.address, [transfer(BOB, 1n), call(target, name, [1n])], signer)).reason).toBe(UNAUTHORIZED)
        }
      }
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer)).ok).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("a self-call is refused with an empty allow-list, allowed when the allow-list names it", () =>
    Effect.gen(function*() {
      const { w, signer } = yield* setup()
      const selfCall = call(w.address, "get_contract_info")
      expect((yield* submit(w.address, [selfCall], signer)).reason).toBe(UNAUTHORIZED)
      const s2 = sessionKey(999n)
      const devnet = yield* Devnet.Devnet
      const vu = BigInt(yield* devnet.blockTimestamp) + 100n
      yield* register(w.address, w.owner, s2.publicKey, vu, 5n, ["get_contract_info"])
      expect((yield* submit(w.address, [selfCall], { key: s2.key, session: { validUntil: vu } })).ok).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("re-registering with a shorter allow-list leaves no stale selector, and resets calls_used", () =>
    Effect.gen(function*() {
      const { w, signer, s, validUntil, devnet } = yield* setup(5n, ["transfer", "approve"])
      const approve = call(USDC, "approve", [BOB, 5n, 0n])
      expect((yield* submit(w.address, [approve], signer)).ok).toBe(true)
      yield* nextBlock
      expect((yield* devnet.sessionData(w.address, s.publicKey))[2]).toBe(1n)
      yield* register(w.address, w.owner, s.publicKey, validUntil, 5n, ["transfer"])
      expect(yield* devnet.allowedEntrypoints(w.address, s.publicKey)).toEqual([Constants.SELECTORS.transfer])
      expect(yield* devnet.sessionData(w.address, s.publicKey)).toEqual([validUntil, 5n, 0n, 1n])
      expect((yield* submit(w.address, [approve], signer)).reason).toBe(UNAUTHORIZED)
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer)).ok).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("revoke zeroes all four fields and the allow-list; get_session_data answers in the spec's order", () =>
    Effect.gen(function*() {
      const { w, s, validUntil, signer } = yield* setup(7n, ["transfer"])
      expect(yield* viewCall(w.address, "get_session_data", [s.publicKey])).toEqual(
        [validUntil, 7n, 0n, 1n].map((v) => "0x" + v.toString(16))
      )
      yield* ownerCall(w.address, w.owner, "revoke_session_key", [s.publicKey])
      expect(yield* viewCall(w.address, "get_session_data", [s.publicKey])).toEqual(["0x0", "0x0", "0x0", "0x0"])
      // An unknown or revoked key fails at step 4.
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer)).reason).toBe("Session: valid_until exceeded")
    }).pipe(Effect.provide(layer())))

  it.effect("owner-only entrypoints refuse anyone but the account itself", () =>
    Effect.gen(function*() {
      const { w, s } = yield* setup()
      const other = yield* wallet
      // `other` asks `w` to revoke: the call comes from `other`, not from `w`; the inner call fails, non-atomically.
      const result = yield* submit(other.address, [call(w.address, "revoke_session_key", [s.publicKey])], other.owner)
      expect(result.ok).toBe(true)
      yield* nextBlock
      const devnet = yield* Devnet.Devnet
      expect((yield* devnet.sessionData(w.address, s.publicKey))[0]).not.toBe(0n)
    }).pipe(Effect.provide(layer())))

  it.effect("a reused outside-execution nonce is refused", () =>
    Effect.gen(function*() {
      const { w, signer } = yield* setup()
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { nonce: 42n })).ok).toBe(true)
      yield* nextBlock
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { nonce: 42n })).reason).toBe("SRC9: duplicated nonce")
      expect(yield* viewCall(w.address, "is_valid_outside_execution_nonce", [42n])).toEqual(["0x0"])
      expect(yield* viewCall(w.address, "is_valid_outside_execution_nonce", [43n])).toEqual(["0x1"])
    }).pipe(Effect.provide(layer())))

  it.effect("the felt-timestamp hash is accepted as the fallback", () =>
    Effect.gen(function*() {
      const { w, signer } = yield* setup()
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { form: "felt" })).ok).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("caller: any caller and the relayer pass, another address is refused", () =>
    Effect.gen(function*() {
      const { w, signer, devnet } = yield* setup()
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { caller: "0x0" })).ok).toBe(true)
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { caller: devnet.relayer })).ok).toBe(true)
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { caller: "0x1234" })).reason).toBe("SRC9: invalid caller")
    }).pipe(Effect.provide(layer())))

  it.effect("time bounds are strict on both sides", () =>
    Effect.gen(function*() {
      const { w, signer } = yield* setup()
      yield* nextBlock
      const now = BigInt(Math.floor((yield* TestClock.currentTimeMillis) / 1000))
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { after: now })).reason).toBe("SRC9: now <= execute_after")
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { after: now - 1n, before: now })).reason).toBe(
        "SRC9: now >= execute_before"
      )
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { after: now - 1n, before: now + 1n })).ok).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("the signature's valid_until: beyond the stored one, or beyond u64, is refused", () =>
    Effect.gen(function*() {
      const { w, s, validUntil } = yield* setup()
      expect((yield* submit(w.address, [transfer(BOB, 1n)], { key: s.key, session: { validUntil: validUntil + 1n } })).reason).toBe(
        "Session: valid_until exceeded"
      )
      expect((yield* submit(w.address, [transfer(BOB, 1n)], { key: s.key, session: { validUntil: 2n ** 64n } })).reason).toBe(
        "Session: invalid timestamp"
      )
      // A shorter valid_until than stored is fine while it has not passed.
      expect((yield* submit(w.address, [transfer(BOB, 1n)], { key: s.key, session: { validUntil: validUntil - 100n } })).ok).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("a bad signature is refused and does not consume a call; other signature lengths are refused", () =>
    Effect.gen(function*() {
      const { w, signer, s, devnet } = yield* setup(1n)
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { corrupt: true })).reason).toBe("SRC9: invalid signature")
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { signatureOverride: [1n, 2n, 3n] })).reason).toBe("SRC9: invalid signature")
      expect((yield* devnet.sessionData(w.address, s.publicKey))[2]).toBe(0n)
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer)).ok).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("a multicall counts once and runs non-atomically: a failing call leaves the others", () =>
    Effect.gen(function*() {
      const { w, signer, s, devnet } = yield* setup(2n)
      const result = yield* submit(w.address, [transfer(BOB, 5n), transfer("0xc0c", 10n ** 30n), transfer("0xd0d", 7n)], signer)
      yield* nextBlock
      expect(yield* status(result.txHash!)).toMatchObject({ executionStatus: "SUCCEEDED" })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(5n)
      expect(yield* devnet.balanceOf(USDC, "0xc0c")).toBe(0n)
      expect(yield* devnet.balanceOf(USDC, "0xd0d")).toBe(7n)
      expect((yield* devnet.sessionData(w.address, s.publicKey))[2]).toBe(1n)
    }).pipe(Effect.provide(layer())))

  it.effect("the paymaster simulates on top of the block being built: a second execute for the last call is refused while the first is pending", () =>
    Effect.gen(function*() {
      const { w, signer, devnet } = yield* setup(1n)
      const a = yield* submit(w.address, [transfer(BOB, 1n)], signer)
      expect(a.ok).toBe(true)
      expect(yield* submit(w.address, [transfer(BOB, 2n)], signer)).toEqual({ ok: false, txHash: undefined, reason: UNAUTHORIZED })
      yield* nextBlock
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(1n)
    }).pipe(Effect.provide(layer())))

  it.effect("two transactions racing for the last call: one sent without simulation reverts at inclusion", () =>
    Effect.gen(function*() {
      const { w, signer, s, devnet } = yield* setup(1n)
      const a = yield* submit(w.address, [transfer(BOB, 1n)], signer)
      const { calldata } = yield* signOutside(w.address, [transfer(BOB, 2n)], signer)
      const b = { ok: true, txHash: yield* devnet.submitOutside(w.address, calldata) }
      expect(a.ok && b.ok).toBe(true)
      yield* nextBlock
      expect(yield* status(a.txHash!)).toMatchObject({ executionStatus: "SUCCEEDED" })
      expect(yield* status(b.txHash!)).toEqual({ finalityStatus: "ACCEPTED_ON_L2", executionStatus: "REVERTED", revertReason: UNAUTHORIZED })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(1n)
      expect((yield* devnet.sessionData(w.address, s.publicKey))[2]).toBe(1n)
    }).pipe(Effect.provide(layer())))
})

describe("spending policy", () => {
  it.effect("per-call and per-window limits, window reset, short calldata", () =>
    Effect.gen(function*() {
      const { w, signer, s } = yield* setup(20n)
      yield* ownerCall(w.address, w.owner, "set_spending_policy", [s.publicKey, USDC, 100n, 0n, 150n, 0n, 60n])
      expect((yield* viewCall(w.address, "get_spending_policy", [s.publicKey, USDC])).slice(0, 5)).toEqual(["0x64", "0x0", "0x96", "0x0", "0x3c"])
      expect((yield* submit(w.address, [transfer(BOB, 101n)], signer)).reason).toBe("Spending: exceeds per-call")
      expect((yield* submit(w.address, [transfer(BOB, 100n)], signer)).ok).toBe(true)
      yield* nextBlock
      // Several spending calls in one multicall add up.
      expect((yield* submit(w.address, [transfer(BOB, 30n), transfer(BOB, 30n)], signer)).reason).toBe("Spending: exceeds window limit")
      expect((yield* submit(w.address, [call(USDC, "transfer", [BOB])], signer)).reason).toBe("Spending: calldata too short")
      expect((yield* submit(w.address, [call(USDC, "approve", [BOB, 2n ** 128n, 0n])], signer)).reason).toBe("Spending: invalid amount")
      yield* TestClock.adjust("61 seconds")
      expect((yield* submit(w.address, [transfer(BOB, 100n), call(USDC, "increase_allowance", [BOB, 50n, 0n])], signer)).ok).toBe(true)
      yield* nextBlock
      expect(yield* viewCall(USDC, "allowance", [w.address, BOB])).toEqual(["0x32", "0x0"])
      yield* ownerCall(w.address, w.owner, "remove_spending_policy", [s.publicKey, USDC])
      yield* nextBlock
      expect((yield* submit(w.address, [transfer(BOB, 1000n)], signer)).ok).toBe(true)
    }).pipe(Effect.provide(layer())))
})

describe("the order of the checks, and the rules' edges", () => {
  it.effect("execute_from_outside_v2 checks in the spec's order: caller, time bounds, nonce, session, signature, then spending", () =>
    Effect.gen(function*() {
      const { w, signer, s, devnet } = yield* setup(5n)
      const now = BigInt(yield* devnet.blockTimestamp)
      yield* ownerCall(w.address, w.owner, "set_spending_policy", [s.publicKey, USDC, 10n, 0n, 100n, 0n, 60n])
      // 1 before 2: a wrong caller and a closed window.
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { caller: "0xbad", before: now - 5n, after: now - 10n })).reason)
        .toBe("SRC9: invalid caller")
      // A nonce used once...
      const used = (yield* submit(w.address, [transfer(BOB, 1n)], signer, { nonce: 77n }))
      expect(used.ok).toBe(true)
      yield* nextBlock
      // 2 before 3: the window, though the nonce is used too.
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer, { nonce: 77n, before: now - 5n, after: now - 10n })).reason)
        .toBe("SRC9: now >= execute_before")
      // 3 before 4: the nonce, though the session key is unknown.
      const stranger = { key: sessionKey(31337n).key, session: { validUntil: now + 100n } }
      expect((yield* submit(w.address, [transfer(BOB, 1n)], stranger, { nonce: 77n })).reason).toBe("SRC9: duplicated nonce")
      // 4 before 5: the session checks, though the signature is bad too.
      expect((yield* submit(w.address, [transfer(BOB, 1n)], stranger, { corrupt: true })).reason).toBe("Session: valid_until exceeded")
      expect((yield* submit(w.address, [call(w.address, "upgrade", [1n])], signer, { corrupt: true })).reason).toBe(UNAUTHORIZED)
      // 5 before 7: the signature, though the amount is over the policy too.
      expect((yield* submit(w.address, [transfer(BOB, 11n)], signer, { corrupt: true })).reason).toBe("SRC9: invalid signature")
      expect((yield* submit(w.address, [transfer(BOB, 11n)], signer)).reason).toBe("Spending: exceeds per-call")
    }).pipe(Effect.provide(layer())))

  it.effect("a session signature whose own valid_until has passed fails at the signature step, the stored one still open", () =>
    Effect.gen(function*() {
      const { w, s, devnet } = yield* setup(5n)
      const now = BigInt(yield* devnet.blockTimestamp)
      const stale = { key: s.key, session: { validUntil: now - 1n } }
      expect((yield* submit(w.address, [transfer(BOB, 1n)], stale)).reason).toBe("SRC9: invalid signature")
      expect((yield* submit(w.address, [transfer(BOB, 1n)], { key: s.key, session: { validUntil: now + 10n } })).ok).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("spending: the window resets at exactly window_start + window_seconds; only the call's token and the four entrypoints count", () =>
    Effect.gen(function*() {
      const { w, signer, s, devnet } = yield* setup(20n)
      const STRK = Constants.STARKNET_CONTRACTS.STRK.contractAddress
      yield* devnet.mint(STRK, w.address, 10_000n)
      yield* ownerCall(w.address, w.owner, "set_spending_policy", [s.publicKey, USDC, 100n, 0n, 100n, 0n, 60n])
      const windowStart = BigInt((yield* viewCall(w.address, "get_spending_policy", [s.publicKey, USDC]))[7]!)
      expect((yield* submit(w.address, [transfer(BOB, 100n)], signer)).ok).toBe(true)
      yield* nextBlock
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer)).reason).toBe("Spending: exceeds window limit")
      // Another token, and an entrypoint outside the four, are not limited.
      expect((yield* submit(w.address, [call(STRK, "transfer", [BOB, 5_000n, 0n])], signer)).ok).toBe(true)
      expect((yield* submit(w.address, [call(USDC, "transfer_from", [w.address, BOB, 500n, 0n])], signer)).ok).toBe(true)
      // At window_start + window_seconds exactly, the window starts afresh.
      yield* TestClock.adjust(`${Number(windowStart + 60n) - (yield* devnet.blockTimestamp)} seconds`)
      expect(BigInt(yield* devnet.blockTimestamp)).toBe(windowStart + 60n)
      expect((yield* submit(w.address, [transfer(BOB, 100n)], signer)).ok).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("direct path: a session signature's own valid_until is checked against the validate-mode block time (rounded down to the hour)", () =>
    Effect.gen(function*() {
      const { w, s, devnet } = yield* setup(5n)
      yield* TestClock.adjust("30 minutes")
      const now = BigInt(yield* devnet.blockTimestamp)
      const hour = now - now % 3600n
      expect(now - hour).toBeGreaterThan(1000n)
      const calls = [transfer(BOB, 1n)]
      const stale = yield* Effect.flip(devnet.invoke({ account: w.address, calls, nonce: 0n, signature: directSignature(w.address, devnet.chainId, 0n, calls, s.key, hour - 1n) }))
      expect(stale.revertReason).toBe("Account validation failed: __validate__ returned 0")
      // Expired by the block's own time, yet valid in validate mode: __validate__ sees the hour, not the second.
      yield* devnet.invoke({ account: w.address, calls, nonce: 0n, signature: directSignature(w.address, devnet.chainId, 0n, calls, s.key, hour) })
    }).pipe(Effect.provide(layer())))

  it.effect("__execute__ refuses a caller that is neither the protocol nor the account", () =>
    Effect.gen(function*() {
      const { w } = yield* setup()
      const other = yield* wallet
      const devnet = yield* Devnet.Devnet
      const before = yield* devnet.balanceOf(USDC, other.address)
      // w's owner makes w call other's __execute__, which would move other's tokens.
      const inner = transfer(BOB, 4n)
      const txHash = yield* submit(w.address, [call(other.address, "__execute__", [1n, inner.to, inner.selector, 3n, ...inner.calldata])], w.owner)
      yield* nextBlock
      expect(yield* status(txHash.txHash!)).toMatchObject({ executionStatus: "SUCCEEDED" })
      expect(yield* devnet.balanceOf(USDC, other.address)).toBe(before)
      // The same inner call by other's own owner goes through.
      yield* ownerCall(other.address, other.owner, "__execute__", [1n, inner.to, inner.selector, 3n, ...inner.calldata])
      expect(yield* devnet.balanceOf(USDC, other.address)).toBe(before - 4n)
    }).pipe(Effect.provide(layer())))
})

describe("introspection, SNIP-6, SNIP-5, the direct path", () => {
  it.effect("is_valid_signature, supports_interface, get_contract_info", () =>
    Effect.gen(function*() {
      const { w, signer, s, validUntil } = yield* setup(1n)
      const { signature, oe } = yield* signOutside(w.address, [transfer(BOB, 1n)], signer)
      const devnet = yield* Devnet.Devnet
      const { OutsideExecution } = yield* Effect.promise(() => import("starknet-session-keys"))
      const h = OutsideExecution.messageHash(devnet.chainId, w.address, oe)
      expect(yield* viewCall(w.address, "is_valid_signature", [h, 4n, ...signature])).toEqual([Constants.VALID])
      expect(yield* viewCall(w.address, "is_valid_signature", [h, 3n, ...signature.slice(0, 3)])).toEqual(["0x0"])
      const owner = yield* signOutside(w.address, [transfer(BOB, 1n)], w.owner, { nonce: 5n })
      const ownerHash = OutsideExecution.messageHash(devnet.chainId, w.address, owner.oe)
      expect(yield* viewCall(w.address, "is_valid_signature", [ownerHash, 2n, ...owner.signature])).toEqual([Constants.VALID])
      expect(yield* viewCall(w.address, "is_valid_signature", [h, 2n, ...owner.signature])).toEqual(["0x0"])
      for (const id of Object.values(Constants.INTERFACE_IDS)) expect(yield* viewCall(w.address, "supports_interface", [id])).toEqual(["0x1"])
      expect(yield* viewCall(w.address, "supports_interface", [123n])).toEqual(["0x0"])
      expect(yield* viewCall(w.address, "get_contract_info")).toEqual(["0x763333"])
      // SNIP-6 never counts a call, and turns invalid once the session is exhausted.
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer)).ok).toBe(true)
      yield* nextBlock
      expect(yield* viewCall(w.address, "is_valid_signature", [h, 4n, ...signature])).toEqual(["0x0"])
      expect(validUntil).toBeGreaterThan(0n)
      expect(s.publicKey).toBe(signature[0])
    }).pipe(Effect.provide(layer())))

  it.effect("direct invoke: a session signature over the direct-path hash is validated and counted", () =>
    Effect.gen(function*() {
      const { w, s, validUntil, devnet } = yield* setup(2n)
      const calls = [transfer(BOB, 3n)]
      const txHash = yield* devnet.invoke({ account: w.address, calls, nonce: 0n, signature: directSignature(w.address, devnet.chainId, 0n, calls, s.key, validUntil) })
      yield* nextBlock
      expect(yield* status(txHash)).toMatchObject({ executionStatus: "SUCCEEDED" })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(3n)
      expect((yield* devnet.sessionData(w.address, s.publicKey))[2]).toBe(1n)
      // `__validate__` answers 0 for a bad session signature: the sequencer refuses it, nothing changes.
      const bad = yield* Effect.flip(devnet.invoke({ account: w.address, calls, nonce: 1n, signature: [s.publicKey, "0x1", "0x2", "0x" + validUntil.toString(16)] }))
      expect(bad).toMatchObject({ code: 55, revertReason: "Account validation failed: __validate__ returned 0" })
      // A signature of another length answers 0 too; a bad owner signature panics with the contract's string.
      const odd = yield* Effect.flip(devnet.invoke({ account: w.address, calls, nonce: 1n, signature: ["0x1", "0x2", "0x3"] }))
      expect(odd.revertReason).toBe("Account validation failed: __validate__ returned 0")
      const owner = yield* Effect.flip(devnet.invoke({ account: w.address, calls, nonce: 1n, signature: ["0x1", "0x2"] }))
      expect(owner.revertReason).toBe("Account validation failed: Account: invalid signature")
      expect((yield* devnet.sessionData(w.address, s.publicKey))[2]).toBe(1n)
      expect(yield* Effect.flip(devnet.invoke({ account: w.address, calls, nonce: 0n, signature: directSignature(w.address, devnet.chainId, 0n, calls, s.key, validUntil) })))
        .toMatchObject({ revertReason: "Invalid transaction nonce: expected 1, got 0" })
    }).pipe(Effect.provide(layer())))

  it.effect("direct invoke: a revert in __execute__ (spending policy) keeps what validation did (nonce, calls_used)", () =>
    Effect.gen(function*() {
      const { w, s, validUntil, devnet } = yield* setup(5n)
      yield* ownerCall(w.address, w.owner, "set_spending_policy", [s.publicKey, USDC, 10n, 0n, 100n, 0n, 60n])
      yield* nextBlock
      const calls = [transfer(BOB, 11n)]
      const txHash = yield* devnet.invoke({ account: w.address, calls, nonce: 0n, signature: directSignature(w.address, devnet.chainId, 0n, calls, s.key, validUntil) })
      yield* nextBlock
      expect(yield* status(txHash)).toMatchObject({ executionStatus: "REVERTED", revertReason: "Spending: exceeds per-call" })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(0n)
      expect((yield* devnet.sessionData(w.address, s.publicKey))[2]).toBe(1n)
      expect(yield* viewCall(w.address, "get_public_key", [])).toHaveLength(1)
      const rpc = yield* StarknetRpc.StarknetRpc
      expect(yield* rpc.getNonce(w.address as Schemas.Address)).toBe("0x1")
    }).pipe(Effect.provide(layer())))

  it.effect("direct invoke: accepted, then dropped at inclusion when the state moved (never REJECTED: forgotten, nothing changes)", () =>
    Effect.gen(function*() {
      const { w, s, validUntil, devnet, signer } = yield* setup(1n)
      const calls = [transfer(BOB, 2n)]
      const viaPaymaster = yield* submit(w.address, [transfer(BOB, 5n)], signer)
      // Both pass their checks now; the paymaster's transaction goes first and uses the only call.
      const direct = yield* devnet.invoke({ account: w.address, calls, nonce: 0n, signature: directSignature(w.address, devnet.chainId, 0n, calls, s.key, validUntil) })
      yield* nextBlock
      expect(yield* status(viaPaymaster.txHash!)).toMatchObject({ executionStatus: "SUCCEEDED" })
      expect(yield* Effect.flip(status(direct))).toBeInstanceOf(Errors.TransactionNotFound)
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(5n)
      const rpc = yield* StarknetRpc.StarknetRpc
      expect(yield* rpc.getNonce(w.address as Schemas.Address)).toBe("0x0")
    }).pipe(Effect.provide(layer())))
})

describe("the contract's entrypoints beyond the session rules", () => {
  it.effect("execute_from_outside_v2 answers each call's result, an empty one for a call that failed (non-atomic)", () =>
    Effect.gen(function*() {
      const { w, signer } = yield* setup()
      const { calldata } = yield* signOutside(w.address, [transfer(BOB, 1n), transfer(BOB, 10n ** 30n), call(USDC, "decimals")], signer)
      // A view of the submission: what the relayer's transaction would get back.
      expect(yield* viewCall(w.address, "execute_from_outside_v2", calldata)).toEqual(["0x3", "0x1", "0x1", "0x0", "0x1", "0x6"])
    }).pipe(Effect.provide(layer())))

  it.effect("the paymaster refuses a signed payload it has already sent and that is still pending (its nonce is taken)", () =>
    Effect.gen(function*() {
      const { w, signer, devnet } = yield* setup()
      const paymaster = yield* Paymaster.Paymaster
      const { oe, signature } = yield* signOutside(w.address, [transfer(BOB, 1n)], signer)
      const req = { userAddress: w.address as Schemas.Address, typedData: OutsideExecution.toTypedData(devnet.chainId, oe), signature }
      yield* paymaster.executeTransaction(req)
      expect((yield* Effect.flip(paymaster.executeTransaction(req))).revertReason).toBe("SRC9: duplicated nonce")
      yield* nextBlock
      expect((yield* Effect.flip(paymaster.executeTransaction(req))).revertReason).toBe("SRC9: duplicated nonce")
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(1n)
    }).pipe(Effect.provide(layer())))

  it.effect("calldata is read as Cairo reads it: out-of-range or missing values, and extra felts, panic with its strings", () =>
    Effect.gen(function*() {
      yield* start
      const fails = (contract: string, entrypoint: string, calldata: ReadonlyArray<bigint>) =>
        Effect.flip(viewCall(contract, entrypoint, calldata)).pipe(Effect.map((e) => e.message))
      expect(yield* fails(USDC, "balance_of", [])).toContain("Failed to deserialize param #1")
      expect(yield* fails(USDC, "transfer", [0xb0bn, 1n << 128n, 0n])).toContain("Failed to deserialize param #2")
      expect(yield* fails(USDC, "transfer", [0xb0bn, 1n])).toContain("Failed to deserialize param #2")
      expect(yield* fails(USDC, "balance_of", [0xb0bn, 1n])).toContain("Input too long for arguments")
    }).pipe(Effect.provide(layer())))

  it.effect("add_or_update_session_key refuses a valid_until beyond u64 or a short list; the multicall goes on", () =>
    Effect.gen(function*() {
      const { w, devnet } = yield* setup()
      const s2 = sessionKey(4242n)
      const txHash = yield* ownerCall(w.address, w.owner, "add_or_update_session_key", [s2.publicKey, 1n << 64n, 5n, 0n])
      expect(yield* status(txHash!)).toMatchObject({ executionStatus: "SUCCEEDED" })
      expect(yield* devnet.sessionData(w.address, s2.publicKey)).toEqual([0n, 0n, 0n, 0n])
      yield* ownerCall(w.address, w.owner, "add_or_update_session_key", [s2.publicKey, 100n, 5n, 2n, 1n])
      expect(yield* devnet.sessionData(w.address, s2.publicKey)).toEqual([0n, 0n, 0n, 0n])
      yield* ownerCall(w.address, w.owner, "add_or_update_session_key", [s2.publicKey, (1n << 64n) - 1n, 0xffffffffn, 1n, 7n])
      expect(yield* devnet.sessionData(w.address, s2.publicKey)).toEqual([(1n << 64n) - 1n, 0xffffffffn, 0n, 1n])
    }).pipe(Effect.provide(layer())))

  it.effect("set_public_key rotates the owner key (owner-only); __execute__ called by the account runs its calls", () =>
    Effect.gen(function*() {
      const { w, devnet } = yield* setup()
      const next = sessionKey(0x5eedn)
      // __execute__ from the account itself: [n, (to, selector, len, calldata...)*]
      const inner = transfer(BOB, 4n)
      yield* ownerCall(w.address, w.owner, "__execute__", [1n, inner.to, inner.selector, 3n, ...inner.calldata])
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(4n)
      expect((yield* Effect.flip(viewCall(w.address, "set_public_key", [next.publicKey]))).message).toContain("Account: unauthorized")
      yield* ownerCall(w.address, w.owner, "set_public_key", [next.publicKey])
      expect(yield* viewCall(w.address, "get_public_key")).toEqual([next.publicKey])
      expect((yield* submit(w.address, [transfer(BOB, 1n)], w.owner)).reason).toBe("SRC9: invalid signature")
      expect((yield* submit(w.address, [transfer(BOB, 1n)], { key: next.key })).ok).toBe(true)
    }).pipe(Effect.provide(layer())))
})

describe("the chain and its faults", () => {
  it.effect("transactions go PRE_CONFIRMED (in the block being built) -> ACCEPTED_ON_L2 -> ACCEPTED_ON_L1; unknown hashes are not found", () =>
    Effect.gen(function*() {
      const { w, signer } = yield* setup()
      const { txHash } = yield* submit(w.address, [transfer(BOB, 1n)], signer)
      expect(yield* status(txHash!)).toEqual({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      yield* nextBlock
      expect(yield* status(txHash!)).toMatchObject({ finalityStatus: "ACCEPTED_ON_L2", executionStatus: "SUCCEEDED" })
      yield* TestClock.adjust("20 seconds")
      expect(yield* status(txHash!)).toMatchObject({ finalityStatus: "ACCEPTED_ON_L1" })
      expect((yield* Effect.flip(status("0x123")))._tag).toBe("TransactionNotFound")
    }).pipe(Effect.provide(layer())))

  it.effect("held transactions stay RECEIVED for k blocks, then PRE_CONFIRMED in the block being built; lagging reads see old session data", () =>
    Effect.gen(function*() {
      const { w, signer, s, devnet } = yield* setup()
      yield* devnet.setFaults({ holdBlocks: 3 })
      const { txHash } = yield* submit(w.address, [transfer(BOB, 1n)], signer)
      yield* TestClock.adjust("2 seconds")
      expect(yield* status(txHash!)).toEqual({ finalityStatus: "RECEIVED" })
      yield* TestClock.adjust("1 second")
      expect(yield* status(txHash!)).toEqual({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      yield* TestClock.adjust("1 second")
      expect(yield* status(txHash!)).toMatchObject({ executionStatus: "SUCCEEDED" })
      yield* devnet.setFaults({ holdBlocks: 0, readLagBlocks: 2 })
      yield* nextBlock
      yield* nextBlock
      yield* nextBlock
      yield* ownerCall(w.address, w.owner, "revoke_session_key", [s.publicKey])
      expect((yield* viewCall(w.address, "get_session_data", [s.publicKey]))[0]).not.toBe("0x0")
      expect((yield* devnet.sessionData(w.address, s.publicKey))[0]).toBe(0n)
      yield* TestClock.adjust("2 seconds")
      expect(yield* viewCall(w.address, "get_session_data", [s.publicKey])).toEqual(["0x0", "0x0", "0x0", "0x0"])
    }).pipe(Effect.provide(layer())))

  it.effect("lagging reads see the whole state of k blocks ago: balances, nonces, block and its timestamp; the paymaster sees the present", () =>
    Effect.gen(function*() {
      const { w, signer, devnet } = yield* setup()
      const rpc = yield* StarknetRpc.StarknetRpc
      yield* devnet.setFaults({ readLagBlocks: 3 })
      const lagStart = yield* rpc.latestBlock
      expect(lagStart.blockNumber).toBe(yield* devnet.blockNumber)
      const { txHash } = yield* submit(w.address, [transfer(BOB, 6n)], signer)
      yield* nextBlock
      // Included in the present; the readers still see the block the lag began at.
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(6n)
      expect(yield* viewCall(USDC, "balance_of", [BOB])).toEqual(["0x0", "0x0"])
      expect(yield* status(txHash!)).toEqual({ finalityStatus: "RECEIVED" })
      expect(yield* rpc.latestBlock).toEqual(lagStart)
      yield* TestClock.adjust("5 seconds")
      const seen = yield* rpc.latestBlock
      expect(seen.blockNumber).toBe((yield* devnet.blockNumber) - 3)
      expect(seen.timestamp).toBeLessThan(yield* devnet.blockTimestamp)
      expect(yield* viewCall(USDC, "balance_of", [BOB])).toEqual(["0x6", "0x0"])
      expect(yield* status(txHash!)).toMatchObject({ finalityStatus: "ACCEPTED_ON_L2", executionStatus: "SUCCEEDED" })
      yield* devnet.clearFaults
      expect((yield* rpc.latestBlock).blockNumber).toBe(yield* devnet.blockNumber)
      expect(yield* rpc.getNonce(USDC as Schemas.Address)).toBe("0x0")
    }).pipe(Effect.provide(layer())))

  it.effect("the next N requests fail with a transient error; latency delays answers", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      yield* devnet.setFaults({ failNext: 2 })
      const first = yield* Effect.flip(viewCall(USDC, "decimals"))
      expect(first).toMatchObject({ _tag: "RpcError", transient: true, code: 503 })
      expect(yield* Effect.flip(viewCall(USDC, "decimals"))).toMatchObject({ transient: true })
      expect(yield* viewCall(USDC, "decimals")).toEqual(["0x6"])
      yield* devnet.setFaults({ latency: "5 seconds" })
      const fiber = yield* Effect.fork(viewCall(USDC, "decimals"))
      yield* TestClock.adjust("4 seconds")
      expect((yield* fiber.poll)._tag).toBe("None")
      yield* TestClock.adjust("1 second")
      expect((yield* fiber.await)._tag).toBe("Success")
    }).pipe(Effect.provide(layer())))

  it.effect("ERC-20: u256 amounts, events, unknown contracts", () =>
    Effect.gen(function*() {
      const { w, signer } = yield* setup()
      expect(yield* viewCall(USDC, "balance_of", [w.address])).toEqual(["0xf4240", "0x0"])
      expect(yield* viewCall(USDC, "balanceOf", [w.address])).toEqual(["0xf4240", "0x0"])
      const { txHash } = yield* submit(w.address, [transfer(BOB, 9n)], signer)
      yield* nextBlock
      const { StarknetRpc } = yield* Effect.promise(() => import("starknet-session-keys"))
      const receipt = yield* Effect.flatMap(StarknetRpc.StarknetRpc, (rpc) => rpc.getTransactionReceipt(txHash!))
      // The token's Transfer, then the fee transfer (STRK, from the sender to the sequencer; free gas, so 0).
      expect(receipt.events).toEqual([
        { fromAddress: USDC, keys: [Schemas.selectorOf("Transfer"), w.address, BOB], data: ["0x9", "0x0"] },
        {
          fromAddress: Constants.STARKNET_CONTRACTS.STRK.contractAddress,
          keys: [Schemas.selectorOf("Transfer"), yield* Effect.map(Devnet.Devnet, (d) => d.relayer), "0x1176a1bd84444c89232ec27754698e5d2e7e1a7f1539f12027f28b23ec9f3d8"],
          data: ["0x0", "0x0"]
        }
      ])
      expect((yield* Effect.flip(viewCall("0x999", "decimals")))).toMatchObject({ code: 20 })
      expect((yield* Effect.flip(viewCall(USDC, "nope")))).toMatchObject({ code: 21, message: "Requested entrypoint does not exist in the contract" })
    }).pipe(Effect.provide(layer())))
})
