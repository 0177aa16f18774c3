import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ec } from "starknet"
import { Constants, Devnet, OutsideExecution, Schemas } from "starknet-session-keys"
import { type AccountContext, applySpending, newAccount } from "../../src/devnet/account.js"
import { Revert } from "../../src/devnet/revert.js"
import * as stark from "../../src/internal/crypto/stark.js"
import { call, layer, nextBlock, ownerCall, register, sessionKey, signOutside, start, status, submit, transfer, USDC, viewCall, wallet } from "../helpers/chain.js"

const BOB = "0xb0b"
const ISRC5 = "0x3f918d17e5ee77373b56385708f855659a07f75997f365cf87748628532a055"
const big = (values: ReadonlyArray<string>) => values.map((v) => BigInt(v))
const reasonOf = <A, E extends { readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => e.message)

describe("the rest of v33's surface", () => {
  it.effect("supports_interface answers ISRC5 (as OpenZeppelin's SRC5 always does), SRC6 and SNIP-9 v2; nothing else", () =>
    Effect.gen(function*() {
      yield* start
      const w = yield* wallet
      expect(big(yield* viewCall(w.address, "supports_interface", [ISRC5]))).toEqual([1n])
      for (const id of Object.values(Constants.INTERFACE_IDS)) expect(big(yield* viewCall(w.address, "supports_interface", [id]))).toEqual([1n])
      expect(big(yield* viewCall(w.address, "supports_interface", ["0x1234"]))).toEqual([0n])
    }).pipe(Effect.provide(layer())))

  it.effect("get_snip9_version is 2; getPublicKey and get_public_key give the owner key", () =>
    Effect.gen(function*() {
      yield* start
      const w = yield* wallet
      const owner = stark.publicKeyOf(w.owner.key)
      expect(big(yield* viewCall(w.address, "get_snip9_version"))).toEqual([2n])
      expect(big(yield* viewCall(w.address, "getPublicKey"))).toEqual([owner])
      expect(big(yield* viewCall(w.address, "get_public_key"))).toEqual([owner])
    }).pipe(Effect.provide(layer())))

  it.effect("compute_session_message_hash is the direct path's hash (tx nonce 0 in a call), and a direct invoke signed over it goes through", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const s = sessionKey(4321n)
      const validUntil = BigInt(yield* devnet.blockTimestamp) + 7200n
      yield* register(w.address, w.owner, s.publicKey, validUntil, 3n, ["transfer"])
      const calls = [transfer(BOB, 5n), call(USDC, "transfer", [BOB, 6n, 0n])]
      const calldata = [BigInt(calls.length), ...calls.flatMap((c) => [BigInt(c.to), BigInt(c.selector), BigInt(c.calldata.length), ...big(c.calldata)]), validUntil]
      const [computed] = big(yield* viewCall(w.address, "compute_session_message_hash", calldata))
      expect(computed).toBe(BigInt(OutsideExecution.directSessionHash(w.address, devnet.chainId, 0n, validUntil, calls)))
      const { r, s: sig } = stark.sign(computed!, s.key)
      const txHash = yield* devnet.invoke({
        account: w.address,
        calls,
        nonce: 0n,
        signature: [s.publicKey, r, sig, validUntil].map((v) => "0x" + BigInt(v).toString(16))
      })
      yield* nextBlock
      expect(yield* status(txHash)).toMatchObject({ executionStatus: "SUCCEEDED" })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(11n)
      // valid_until is a u64.
      expect(yield* reasonOf(viewCall(w.address, "compute_session_message_hash", [0n, 2n ** 64n]))).toBe("Failed to deserialize param #2")
    }).pipe(Effect.provide(layer())))

  it.effect("compute_session_message_hash follows the reference source: poseidon of address, chain id, tx nonce, valid_until, then each call's to, selector, calldata length and calldata, with no call count", () =>
    // chipi-pay/sessions-smart-contract, src/account.cairo `_session_message_hash` (and v33's
    // `SessionKeyComponent::session_message_hash`): `get_contract_address()`, `tx_info.chain_id`, `tx_info.nonce`,
    // `valid_until`, then per call `to`, `selector`, `calldata.len()`, the calldata; `poseidon_hash_span`. The hash
    // below is built with starknet.js's Poseidon, not the library's.
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const s = sessionKey(2468n)
      const validUntil = BigInt(yield* devnet.blockTimestamp) + 7200n
      yield* register(w.address, w.owner, s.publicKey, validUntil, 5n, [])
      yield* nextBlock
      const calls = [transfer(BOB, 7n), call(USDC, "decimals", [])]
      const layout = (nonce: bigint) => [
        BigInt(w.address), BigInt(devnet.chainId), nonce, validUntil,
        ...calls.flatMap((c) => [BigInt(c.to), BigInt(c.selector), BigInt(c.calldata.length), ...big(c.calldata)])
      ]
      const reference = (nonce: bigint) => ec.starkCurve.poseidonHashMany(layout(nonce))
      const calldata = [BigInt(calls.length), ...calls.flatMap((c) => [BigInt(c.to), BigInt(c.selector), BigInt(c.calldata.length), ...big(c.calldata)]), validUntil]
      // In a call `get_tx_info().nonce` is 0.
      expect(big(yield* viewCall(w.address, "compute_session_message_hash", calldata))).toEqual([reference(0n)])
      expect(BigInt(OutsideExecution.directSessionHash(w.address, devnet.chainId, 3n, validUntil, calls))).toBe(reference(3n))
      // The call count is not hashed.
      expect(reference(0n)).not.toBe(ec.starkCurve.poseidonHashMany([...layout(0n).slice(0, 4), BigInt(calls.length), ...layout(0n).slice(4)]))
      // In `__validate__` the tx nonce is the transaction's (the account's next): at nonce 1, a signature over the
      // nonce-0 hash answers 0, one over the nonce-1 hash validates.
      const first = stark.sign(reference(0n), s.key)
      yield* devnet.invoke({ account: w.address, calls, nonce: 0n, signature: [s.publicKey, first.r, first.s, validUntil].map((v) => "0x" + BigInt(v).toString(16)) })
      yield* nextBlock
      const stale = yield* Effect.flip(devnet.invoke({ account: w.address, calls, nonce: 1n, signature: [s.publicKey, first.r, first.s, validUntil].map((v) => "0x" + BigInt(v).toString(16)) }))
      expect(stale.revertReason).toBe("Account validation failed: __validate__ returned 0")
      const second = stark.sign(reference(1n), s.key)
      const txHash = yield* devnet.invoke({ account: w.address, calls, nonce: 1n, signature: [s.publicKey, second.r, second.s, validUntil].map((v) => "0x" + BigInt(v).toString(16)) })
      yield* nextBlock
      expect(yield* status(txHash)).toMatchObject({ executionStatus: "SUCCEEDED" })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(14n)
    }).pipe(Effect.provide(layer())))

  it.effect("malformed calldata fails as Cairo's generated wrapper fails: Failed to deserialize param #N, u64 fields out of range", () =>
    Effect.gen(function*() {
      yield* start
      const w = yield* wallet
      expect(yield* reasonOf(viewCall(w.address, "supports_interface"))).toBe("Failed to deserialize param #1")
      expect(yield* reasonOf(viewCall(w.address, "get_session_data"))).toBe("Failed to deserialize param #1")
      expect(yield* reasonOf(viewCall(w.address, "get_spending_policy", [1n]))).toBe("Failed to deserialize param #2")
      expect(yield* reasonOf(viewCall(w.address, "is_valid_signature", [1n, 3n, 1n]))).toBe("Failed to deserialize param #2")
      expect(yield* reasonOf(viewCall(w.address, "get_snip9_version", [1n]))).toBe("Input too long for arguments")

      const { calldata } = yield* signOutside(w.address, [transfer(BOB, 1n)], w.owner)
      const outside = (cd: ReadonlyArray<string | bigint>) => viewCall(w.address, "execute_from_outside_v2", cd)
      // execute_after (index 2) and execute_before (index 3) are u64s of the OutsideExecution struct: param #1.
      const withField = (i: number, v: bigint) => calldata.map((x, j) => (j === i ? "0x" + v.toString(16) : x))
      expect(yield* reasonOf(outside(withField(2, 2n ** 64n)))).toBe("Failed to deserialize param #1")
      expect(yield* reasonOf(outside(withField(3, 2n ** 64n)))).toBe("Failed to deserialize param #1")
      // Truncated inside the calls: param #1; inside the signature: param #2; extra felts: too long.
      expect(yield* reasonOf(outside(calldata.slice(0, 7)))).toBe("Failed to deserialize param #1")
      expect(yield* reasonOf(outside(calldata.slice(0, -1)))).toBe("Failed to deserialize param #2")
      expect(yield* reasonOf(outside([...calldata, "0x1"]))).toBe("Input too long for arguments")
    }).pipe(Effect.provide(layer())))

  it.effect("a spending window whose end overflows u64 panics on every tracked call; untracked calls still run", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const s = sessionKey(99n)
      const validUntil = BigInt(yield* devnet.blockTimestamp) + 3600n
      yield* register(w.address, w.owner, s.publicKey, validUntil, 10n)
      const signer = { key: s.key, session: { validUntil } }
      yield* ownerCall(w.address, w.owner, "set_spending_policy", [s.publicKey, USDC, 100n, 0n, 150n, 0n, 2n ** 64n - 1n])
      expect((yield* submit(w.address, [transfer(BOB, 1n)], signer)).reason).toBe("u64_add Overflow")
      expect((yield* submit(w.address, [call(USDC, "approve", [BOB, 1n, 0n])], signer)).reason).toBe("u64_add Overflow")
      expect((yield* submit(w.address, [call(USDC, "balance_of", [BOB])], signer)).ok).toBe(true)
    }).pipe(Effect.provide(layer())))
})

describe("the chain's panics", () => {
  it("Spending: invalid amount is a ByteArray panic (panic!), the other reasons short strings", () => {
    const key = 0x1234n
    const acc = newAccount(stark.publicKeyOf(Uint8Array.from(Buffer.from("01".padStart(64, "0"), "hex"))))
    acc.sessions.set(key, { validUntil: 2n ** 40n, maxCalls: 5n, callsUsed: 0n, allowed: [] })
    acc.policies.set(`${key}:${BigInt(USDC)}`, { maxPerCall: 10n, maxPerWindow: 10n, windowSeconds: 60n, spent: 0n, windowStart: 0n })
    const unused = () => {
      throw new Error("not reached")
    }
    const context: AccountContext = {
      chainId: BigInt(Constants.SN_SEPOLIA),
      now: () => 1_767_225_600n,
      txNonce: () => 0n,
      txHash: () => 0n,
      setMap: (map, k, v) => map.set(k, v),
      setField: (target, k, v) => {
        target[k] = v
      },
      addNonce: (set, nonce) => set.add(nonce),
      emit: () => {},
      call: unused,
      attempt: (f) => f()
    }
    const policyPanic = (low: bigint) => {
      try {
        applySpending(context, acc, key, [
          { to: USDC, selector: Schemas.selectorOf("transfer"), calldata: [BOB, "0x" + low.toString(16), "0x0"] as Array<Schemas.Felt> }
        ])
        return undefined
      } catch (error) {
        return error as Revert
      }
    }
    expect(policyPanic(2n ** 128n)).toEqual(new Revert("Spending: invalid amount", "byteArray"))
    expect(policyPanic(11n)).toEqual(new Revert("Spending: exceeds per-call", "shortString"))
  })
})
