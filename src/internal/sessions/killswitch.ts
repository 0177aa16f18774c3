/**
 * The kill switch: every new payment of a wallet stopped, then every active session of it revoked, owner-signed
 * (`revokeAll`), or by a revoke signed ahead of time (`presignRevokeAll`, `sendRevokeAll`); `resumeWallet` lifts the
 * stop. Re-exported by `Sessions`.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Schema } from "effect"
import { Crypto } from "../../Crypto.js"
import type { InvalidInput, InvalidPin, LedgerError, PaymasterError, RpcError, TypedDataMismatch } from "../../Errors.js"
import { Ledger } from "../../Ledger.js"
import { ownerSignature } from "../../OutsideExecution.js"
import { Paymaster } from "../../Paymaster.js"
import { Address, decode, Felt, type TxHash, WalletData } from "../../Schemas.js"
import type { Options, Pin, RevokedAll, SubmitError } from "../../Sessions.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import { Presigned, presign, revokeCalls, sendPresigned } from "../payments/presign.js"
import { invalid, objectParams, readStored, retrying, seconds, toPin, windowOptions } from "./lifecycle.js"
import { ownerKey } from "../payments/owner.js"
import { newKey, submitOnce } from "../payments/submit.js"
import { forgetView } from "../account/views.js"

/** Revokes per multicall: the calldata stays far below a sequencer's limits. */
const REVOKES_PER_CALL = 50

/** The wallet's sessions the ledger knows (and `more`) that the chain says are active now (registered, not expired). */
const activeSessions = (wallet: Address, more: ReadonlyArray<Felt>, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const known = new Map<bigint, Felt>()
    for (const key of [...(yield* ledger.sessionsOf(wallet)), ...more]) known.set(BigInt(key), key)
    const read = yield* Effect.forEach([...known.values()], (key) => Effect.map(readStored(wallet, key, retry), (r) => [key, r] as const), {
      concurrency: 10
    })
    return read.filter(([, { data, now }]) => data.validUntil !== 0 && now <= data.validUntil).map(([key]) => key)
  })

const revokeAllParams = (params: unknown) =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const { sessionPublicKeys, wallet } = params as { readonly wallet: unknown; readonly sessionPublicKeys?: unknown }
    const decoded = yield* decode(WalletData, "wallet")(wallet)
    const more = sessionPublicKeys === undefined ? [] : yield* decode(Schema.Array(Felt), "sessionPublicKeys")(sessionPublicKeys)
    return { wallet: decoded, more }
  })

/**
 * The kill switch. From the moment it is called, this library refuses every new payment of the wallet
 * (`WalletHalted`, for every instance sharing the `Ledger`, until `resumeWallet`); then it revokes, owner-signed and
 * sponsored, every session of the wallet that the `Ledger` knows (and those in `sessionPublicKeys`) and that the
 * chain says is active, in one multicall (one per 50 sessions). A payment already sent is not recalled: the chain
 * refuses it once the revocation is in.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const revokeAll = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    /** Sessions to revoke besides those the ledger knows. */
    readonly sessionPublicKeys?: ReadonlyArray<string>
  },
  options: Options = {}
): Effect.Effect<RevokedAll, SubmitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const { more, wallet } = yield* revokeAllParams(params)
    const pin = yield* toPin(params.encryptKey, "encryptKey")
    yield* windowOptions(options)
    const ledger = yield* Ledger
    yield* ledger.halt(wallet.publicKey, yield* Clock.currentTimeMillis)
    yield* Effect.annotateCurrentSpan({ wallet: wallet.publicKey })
    const active = yield* activeSessions(wallet.publicKey, more, options.retry)
    if (active.length === 0) return { revoked: [], transactionHashes: [] }
    const crypto = yield* Crypto
    const transactionHashes = yield* Effect.scoped(Effect.gen(function*() {
      const key = yield* ownerKey(wallet, pin, options.retry)
      const hashes: Array<TxHash> = []
      for (let i = 0; i < active.length; i += REVOKES_PER_CALL) {
        const chunk = active.slice(i, i + REVOKES_PER_CALL)
        const reset = Effect.forEach(chunk, (k) => ledger.resetSession({ wallet: wallet.publicKey, sessionPublicKey: k }), { discard: true })
        yield* Effect.forEach(chunk, (k) => forgetView(wallet.publicKey, k), { discard: true })
        const hash = yield* submitOnce({
          wallet: wallet.publicKey,
          calls: revokeCalls(wallet.publicKey, chunk),
          purpose: "revoke",
          sessionPublicKey: chunk[0]!,
          idempotencyKey: newKey("revoke-all:"),
          signWith: (hash) => crypto.sign(hash, key).pipe(Effect.map(ownerSignature)),
          options
        }, { guard: Effect.void }).pipe(
          Effect.catchTag("PolicyViolation", Effect.die),
          Effect.tapErrorTag("OutcomeUnknown", () => reset)
        )
        yield* reset
        hashes.push(hash)
      }
      return hashes
    }))
    return { revoked: active, transactionHashes }
  }).pipe(Effect.withSpan("Sessions.revokeAll"))

/**
 * Lets the payments of a wallet stopped by `revokeAll` through again (its revoked sessions stay revoked).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const resumeWallet = (params: { readonly walletAddress: string }): Effect.Effect<void, InvalidInput | LedgerError, Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const wallet = yield* decode(Address, "walletAddress")(params.walletAddress)
    yield* (yield* Ledger).resume(wallet)
  })

/**
 * A revoke-all signed by the owner ahead of time, sent later without the PIN (`sendRevokeAll`). Serialisable
 * (`Schema.encode(PresignedRevokeAll)`); it revokes the sessions active when it was signed (not those registered
 * later), and can be sent until `executeBefore` (seconds), once. Keep it as a secret of the operator: whoever holds
 * it can revoke those sessions (and nothing else).
 *
 * @since 0.1.0
 * @category models
 */
export const PresignedRevokeAll = Schema.Struct({
  wallet: Address,
  sessionPublicKeys: Schema.Array(Felt),
  presigned: Presigned
}).annotations({ identifier: "PresignedRevokeAll" })
/** @since 0.1.0 */
export type PresignedRevokeAll = typeof PresignedRevokeAll.Type

/**
 * Signs, with the owner's PIN now, a revoke of every session of the wallet the ledger knows (and those in
 * `sessionPublicKeys`) that the chain says is active, valid for `validFor` (default 7 days). Nothing is sent.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const presignRevokeAll = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly sessionPublicKeys?: ReadonlyArray<string>
  },
  options: Pick<Options, "retry"> & { readonly validFor?: Duration.DurationInput } = {}
): Effect.Effect<PresignedRevokeAll, InvalidInput | InvalidPin | TypedDataMismatch | PaymasterError | RpcError | LedgerError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const { more, wallet } = yield* revokeAllParams(params)
    const pin = yield* toPin(params.encryptKey, "encryptKey")
    const validFor = yield* seconds(options.validFor, "options.validFor", Duration.days(7), Duration.minutes(1), Duration.days(366))
    const active = yield* activeSessions(wallet.publicKey, more, options.retry)
    if (active.length === 0) return yield* invalid("wallet", "the wallet has no active session to revoke")
    if (active.length > REVOKES_PER_CALL) {
      return yield* invalid("wallet", `at most ${REVOKES_PER_CALL} sessions in one presigned revoke (the wallet has ${active.length})`)
    }
    const rpc = yield* StarknetRpc
    const block = yield* retrying(rpc.latestBlock, options.retry)
    const presigned = yield* presign(wallet, pin, revokeCalls(wallet.publicKey, active), {
      now: block.timestamp,
      executeBefore: block.timestamp + validFor
    })
    return { wallet: wallet.publicKey, sessionPublicKeys: active, presigned }
  }).pipe(Effect.withSpan("Sessions.presignRevokeAll"))

/**
 * Sends a presigned revoke-all: no PIN. Stops the wallet's payments here first (as `revokeAll`). `Duplicate` when it
 * was sent before (its nonce is used: the sessions were revoked then).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const sendRevokeAll = (
  presignedRevokeAll: unknown
): Effect.Effect<
  { readonly _tag: "Sent"; readonly txHash: string } | { readonly _tag: "Duplicate" },
  InvalidInput | PaymasterError | LedgerError,
  Paymaster | StarknetRpc | Ledger
> =>
  Effect.gen(function*() {
    const { presigned, sessionPublicKeys, wallet } = yield* decode(PresignedRevokeAll, "presignedRevokeAll")(presignedRevokeAll)
    const ledger = yield* Ledger
    yield* ledger.halt(wallet, yield* Clock.currentTimeMillis)
    const sent = yield* sendPresigned(wallet, presigned)
    yield* Effect.forEach(sessionPublicKeys, (k) => Effect.zipRight(ledger.resetSession({ wallet, sessionPublicKey: k }), forgetView(wallet, k)), {
      discard: true
    })
    return sent
  }).pipe(Effect.withSpan("Sessions.sendRevokeAll"))
