/**
 * Owner-signed, sponsored calls of the account on itself (register, revoke, spending policies), and the replay
 * guard of those that can revive a session's refused payloads (`revivingChange`).
 */
import { Clock, Effect, Exit, type Redacted } from "effect"
import { Crypto } from "../../Crypto.js"
import { LivePayloads } from "../../Errors.js"
import { Ledger, type Payment, type SessionRef } from "../../Ledger.js"
import { ownerSignature } from "../../OutsideExecution.js"
import { type Address, decode, type Felt, WalletData } from "../../Schemas.js"
import type { Options, Pin, RegisterOptions } from "../../Sessions.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import { invalid, retrying, toPin } from "../sessions/lifecycle.js"
import { forgetView } from "../account/views.js"
import { fenceSpan } from "./fence.js"
import { failedUnknown } from "./reserve.js"
import { lookAt } from "./resolve.js"
import { newKey, submitOnce } from "./submit.js"

/** Decrypts the owner key of a wallet into the scope, checked against the account's public key. */
export const ownerKey = (wallet: WalletData, pin: Redacted.Redacted<string>, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const crypto = yield* Crypto
    const [publicKey] = yield* retrying(rpc.call({ contractAddress: wallet.publicKey, entrypoint: "get_public_key", calldata: [] }), retry)
    if (publicKey === undefined) return yield* invalid("wallet.publicKey", "the account did not answer get_public_key")
    return yield* crypto.decryptPrivateKey(wallet.encryptedPrivateKey, pin, publicKey)
  })

/**
 * An owner-signed, sponsored call of the account on itself; once a (re-)registration or revocation is sent (or its
 * outcome is unknown), the ledger's count of the session it concerns starts afresh (the chain resets its count
 * too). A spending-policy change leaves the session's count as it is, on chain and here.
 */
export const ownerSubmit = (
  params: { readonly encryptKey: Pin; readonly wallet: unknown },
  entrypoint: "add_or_update_session_key" | "revoke_session_key" | "set_spending_policy" | "remove_spending_policy",
  calldata: ReadonlyArray<Felt>,
  sessionPublicKey: Felt,
  allowedEntrypoints: ReadonlyArray<Felt> | undefined,
  options: Options,
  idempotencyKey = newKey(`${entrypoint}:`)
) =>
  Effect.scoped(
    Effect.gen(function*() {
      const pin = yield* toPin(params.encryptKey, "encryptKey")
      const wallet = yield* decode(WalletData, "wallet")(params.wallet)
      const crypto = yield* Crypto
      const ledger = yield* Ledger
      const key = yield* ownerKey(wallet, pin, options.retry)
      const reset = entrypoint === "add_or_update_session_key" || entrypoint === "revoke_session_key"
        ? ledger.resetSession({ wallet: wallet.publicKey, sessionPublicKey }, allowedEntrypoints)
        : Effect.void
      // The session's state changes from here: no execute reuses what was read of it before.
      yield* forgetView(wallet.publicKey, sessionPublicKey)
      const txHash = yield* submitOnce({
        wallet: wallet.publicKey,
        calls: [{ contractAddress: wallet.publicKey, entrypoint, calldata }],
        purpose: entrypoint === "revoke_session_key" ? "revoke" : entrypoint === "add_or_update_session_key" ? "register" : "policy",
        sessionPublicKey,
        idempotencyKey,
        signWith: (hash) => crypto.sign(hash, key).pipe(Effect.map(ownerSignature)),
        options
      }, { guard: Effect.void }).pipe(
        // Owner submissions carry no budget charges: the ledger never refuses them for a budget.
        Effect.catchTag("PolicyViolation", Effect.die),
        Effect.tapErrorTag("OutcomeUnknown", () => reset),
        // Also what a concurrent execute read meanwhile.
        Effect.ensuring(forgetView(wallet.publicKey, sessionPublicKey))
      )
      yield* reset
      return txHash
    })
  )

/**
 * The payloads a session key signed that did not execute and are still inside their windows: replayable once the
 * key is registered again. Each is looked at on chain first (an executed or dead one is no risk, and its record
 * learns it).
 */
const livePayloads = (wallet: Address, sessionPublicKey: Felt, retry: Options["retry"], which: (p: Payment) => boolean) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const open = (yield* ledger.openPayments({ wallet, sessionPublicKey })).filter((p) => p.purpose === "execute" && which(p))
    const looks = yield* Effect.forEach(open, (p) => Effect.map(lookAt(p, retry), (look) => [p, look] as const), { concurrency: 10 })
    const live: Array<Payment> = []
    for (const [p, look] of looks) {
      // A used nonce is no risk; its record learns the transaction when it is resolved.
      if (look === "open") live.push(p)
      else if (look === "dead") {
        if (p.reservation !== undefined) yield* ledger.release(p.reservation)
        yield* ledger.updatePayment(p.wallet, p.idempotencyKey, p.nonce, { status: "not-executed" })
      }
    }
    return live
  })

/**
 * Fails with `LivePayloads` while the key has live unexecuted payloads (those `which` keeps: the ones the change
 * could revive), or waits them out.
 */
const guardReplays = (wallet: Address, sessionPublicKey: Felt, options: RegisterOptions, which: (p: Payment) => boolean = () => true) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    for (;;) {
      const live = yield* livePayloads(wallet, sessionPublicKey, options.retry, which)
      if (live.length === 0) return
      const safeAt = Math.max(...live.map((p) => p.executeBefore))
      if (options.waitForLivePayloads !== true) {
        return yield* new LivePayloads({ wallet, sessionPublicKey, nonces: live.map((p) => p.nonce), safeAt })
      }
      yield* Effect.logDebug("waiting for the session's live payloads to expire").pipe(Effect.annotateLogs({ safeAt }))
      yield* retrying(rpc.latestBlock, options.retry).pipe(
        Effect.repeat({ schedule: Transactions.defaultPolling, until: (block) => block.timestamp >= safeAt })
      )
    }
  })

/**
 * An owner change that can revive the session's refused payloads (a re-registration, a loosened spending policy),
 * behind a fence (`Ledger.fence`) set before the replay guard reads the payloads it could revive (those `which`
 * keeps): an execute recording a payload meanwhile either is seen by the guard or sees the fence and waits for the
 * change to be decided before sending. The fence stays once the change may have been sent (its outcome clears it),
 * and is lifted on every other exit.
 */
export const revivingChange = (
  params: { readonly encryptKey: Pin; readonly wallet: unknown },
  session: SessionRef,
  entrypoint: "add_or_update_session_key" | "set_spending_policy" | "remove_spending_policy",
  calldata: ReadonlyArray<Felt>,
  allowedEntrypoints: ReadonlyArray<Felt> | undefined,
  options: RegisterOptions,
  which?: (p: Payment) => boolean
) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const idempotencyKey = newKey(`${entrypoint}:`)
    const span = yield* fenceSpan(options)
    const now = yield* Clock.currentTimeMillis
    yield* ledger.fence(session, { idempotencyKey, until: now + span })
    return yield* Effect.zipRight(
      guardReplays(session.wallet, session.sessionPublicKey, options, which),
      ownerSubmit(params, entrypoint, calldata, session.sessionPublicKey, allowedEntrypoints, options, idempotencyKey)
    ).pipe(
      Effect.onExit((exit) =>
        Exit.isSuccess(exit) || failedUnknown(exit) ? Effect.void : ledger.clearFence(session, idempotencyKey).pipe(Effect.ignoreLogged)
      )
    )
  })
