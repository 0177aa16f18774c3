/**
 * A session execute, from its calls to its payment: the calls decoded and bounded (`decodeCalls`), the verdict the
 * chain would give them now (`verdictNow`), a chain refusal mapped to its typed error (`explain`), and the execute
 * itself (`executeWith`): policies, preflight and simulation, the reserved call, the session signature, then the
 * exactly-once submission.
 */
import { Effect, Either, Option, Redacted, Ref, Schema } from "effect"
import { Crypto } from "../../Crypto.js"
import { type CallWouldFail, EntrypointNotAllowed, PaymasterError, type RpcError, type SessionRefusal } from "../../Errors.js"
import { Ledger, type SessionRef } from "../../Ledger.js"
import * as Metrics from "../../Metrics.js"
import { type OutsideExecutionTypedData, sessionSignature } from "../../OutsideExecution.js"
import type { Paymaster } from "../../Paymaster.js"
import { IdempotencyKey } from "../../Payments.js"
import * as Policies from "../../Policies.js"
import { type Address, Call, callSelector, decode, type Felt, type SessionKeyData, type TxHash, type WalletData } from "../../Schemas.js"
import type { ExecuteError, ExecuteOptions, Options } from "../../Sessions.js"
import type { Signer } from "../../Signer.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import { accountNonce, keptNonce, simulationRefusal } from "../account/callcheck.js"
import { parseNumeric } from "../crypto/felt.js"
import { invalid, windowOptions } from "./lifecycle.js"
import { failedCallOf } from "../payments/calls.js"
import { reserveLive } from "../payments/reserve.js"
import { newKey, submitOnce } from "../payments/submit.js"
import { preflight as preflightCheck, readChainState, readsAfresh, verdict as chainVerdict } from "../account/preflight.js"

/** The most calldata felts an execute may carry, in all its calls (far above what a sequencer accepts). */
const MAX_CALLDATA = 10_000

const Calls = Schema.Array(Call).pipe(Schema.minItems(1, { message: () => "at least one call is required" }))

/** Decodes calls, refusing (as a typed error, before any work) more calldata than any sequencer takes. */
export const decodeCalls = (raw: unknown) =>
  Effect.gen(function*() {
    if (Array.isArray(raw)) {
      let felts = 0
      for (const call of raw as ReadonlyArray<{ readonly calldata?: unknown }>) {
        const data = typeof call === "object" && call !== null ? call.calldata : undefined
        if (Array.isArray(data)) felts += data.length
      }
      if (felts > MAX_CALLDATA) return yield* invalid("calls", `at most ${MAX_CALLDATA} calldata felts in all (got ${felts})`)
    }
    return yield* decode(Calls, "calls")(raw)
  })

/**
 * Reads the session data, block time, allow-list and the policies of the tokens the calls move, and runs the
 * account's checks on them (`session_allows`, then the spending policy).
 */
export const verdictNow = (
  wallet: Address,
  sessionPublicKey: Felt,
  calls: ReadonlyArray<Call>,
  retry: Options["retry"],
  /** Count the amounts of this session's payloads that may still execute, but for the one under this key. */
  pending?: { readonly except?: string },
  /** May answer from the layer's recent view of the session when it lets the calls through (see `readChainState`). */
  reuse = false
) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const known = yield* ledger.allowedEntrypoints({ wallet, sessionPublicKey })
    const open = pending === undefined
      ? []
      : (yield* ledger.openPayments({ wallet, sessionPublicKey })).filter((p) => p.purpose === "execute" && p.idempotencyKey !== pending.except)
    const judge = (state: Effect.Effect.Success<ReturnType<typeof readChainState>>) => ({
      data: state.data,
      now: state.now,
      block: state.block,
      reused: state.reused,
      refusal: chainVerdict({ walletAddress: wallet, sessionPublicKey, now: state.now, calls, state })
    })
    const first = judge(yield* readChainState(wallet, sessionPublicKey, calls, known, retry, open, { reuse }))
    // A refusal is never given on a reused view: the chain may have moved since in the session's favour.
    if (!first.reused || first.refusal === undefined) return first
    return judge(yield* readChainState(wallet, sessionPublicKey, calls, known, retry, open))
  })

/** Maps a chain refusal to the typed error `session_allows` gives on fresh data, or keeps it. */
export const explain = <E>(wallet: Address, sessionPublicKey: Felt, calls: ReadonlyArray<Call>, reason: string, original: E) =>
  Effect.gen(function*() {
    if (!/Session: |SRC9: invalid signature|Spending: |u64_add Overflow|u256_add Overflow/.test(reason)) return original
    const fresh = yield* Effect.either(verdictNow(wallet, sessionPublicKey, calls, undefined))
    if (Either.isLeft(fresh)) return original
    const { data, refusal } = fresh.right
    if (refusal !== undefined) return refusal
    // Everything else holds: with an allow-list the chain knows and this process does not, that is the refusal.
    // The chain does not show its list, so the entrypoint is named only when the calls use just one.
    const used = [...new Map(calls.map((call) => [callSelector(call), call.entrypoint] as const))]
    if (reason.includes("unauthorized selector") && data.allowedEntrypointsLen > 0 && used.length === 1) {
      const [selector, entrypoint] = used[0]!
      return new EntrypointNotAllowed({ selector, ...(BigInt(selector) !== parseNumeric(entrypoint) ? { entrypoint } : {}) })
    }
    return original
  })

export const executeWith = (
  wallet: WalletData,
  session: SessionKeyData,
  /** The decrypted session key, or the `Signer` that holds it. */
  key: Redacted.Redacted<Uint8Array> | Signer["Type"],
  rawCalls: unknown,
  options: ExecuteOptions
): Effect.Effect<TxHash, ExecuteError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const calls = yield* decodeCalls(rawCalls)
    yield* windowOptions(options)
    const idempotencyKey = options.idempotencyKey === undefined
      ? newKey("execute:")
      : yield* decode(IdempotencyKey, "options.idempotencyKey")(options.idempotencyKey)
    // This library's policies, before anything is read, reserved or signed.
    const charges = yield* Policies.check({ wallet: wallet.publicKey, sessionPublicKey: session.publicKey, calls, idempotencyKey })
    const crypto = yield* Crypto
    const ledger = yield* Ledger
    // A payment under this key that executed while one of its calls failed: nothing is sent again for it.
    const recorded = options.idempotencyKey === undefined ? undefined : yield* ledger.payment(wallet.publicKey, idempotencyKey)
    const failed = recorded === undefined ? undefined : failedCallOf(recorded)
    if (failed !== undefined) return yield* failed
    const ref: SessionRef = { wallet: wallet.publicKey, sessionPublicKey: session.publicKey }
    // The verdict of the last check, for the reservation's refusal.
    const lastVerdict = yield* Ref.make<Effect.Effect.Success<ReturnType<typeof verdictNow>> | undefined>(undefined)
    const simulating = options.skipSimulation !== true
    // What the simulation answered when it went out with the guard's reads, for `check`.
    const simulatedEarly = yield* Ref.make<Either.Either<CallWouldFail | undefined, RpcError> | undefined>(undefined)
    const guard = Effect.gen(function*() {
      // The account's nonce, for the simulation, is read with the session's state whenever that is read afresh (one
      // batch over HTTP); in between, the one read last is used (a simulation that finds it stale reads it again).
      // Reading afresh with a nonce kept, the simulation goes in that same batch; it stands if the nonce read with
      // it is the one it carried.
      const rpc = yield* StarknetRpc
      const afresh = readsAfresh(rpc, wallet.publicKey, session.publicKey)
      const kept = simulating && afresh ? keptNonce(rpc, wallet.publicKey) : undefined
      yield* Ref.set(simulatedEarly, undefined)
      const [verdict, nonce, early] = yield* Effect.all([
        verdictNow(wallet.publicKey, session.publicKey, calls, options.retry, { except: idempotencyKey }, true),
        simulating ? Effect.option(accountNonce(wallet.publicKey, options.retry, afresh)) : Effect.succeedNone,
        kept !== undefined ? Effect.either(simulationRefusal(wallet.publicKey, calls, options.retry, kept)) : Effect.succeed(undefined)
      ], { concurrency: "unbounded" })
      yield* Ref.set(lastVerdict, verdict)
      if (verdict.refusal !== undefined) return yield* Effect.zipRight(Metrics.preflightRefused(verdict.refusal._tag), Effect.fail(verdict.refusal))
      if (early !== undefined && Option.exists(nonce, (n) => BigInt(n) === BigInt(kept!))) yield* Ref.set(simulatedEarly, early)
    })
    // The session lets the calls through; whether each call does what it asks is the contracts' to say. Simulated
    // while the paymaster builds, unless it went with the guard's reads: nothing is signed unless it passes.
    const check = Effect.gen(function*() {
      const early = yield* Ref.getAndSet(simulatedEarly, undefined)
      const wouldFail = early !== undefined ? yield* early : yield* simulationRefusal(wallet.publicKey, calls, options.retry)
      if (wouldFail !== undefined) return yield* Effect.zipRight(Metrics.preflightRefused(wouldFail._tag), Effect.fail(wouldFail))
    })
    const reserve = Effect.gen(function*() {
      const verdict = (yield* Ref.get(lastVerdict))!
      const reserved = yield* reserveLive(ref, verdict.data, idempotencyKey, options.retry)
      if (reserved.ok) return reserved.reservation
      return yield* Effect.tapError(Effect.fail<SessionRefusal>(preflightCheck({
        walletAddress: wallet.publicKey,
        sessionPublicKey: session.publicKey,
        stored: verdict.data,
        now: verdict.now,
        calls,
        callsUsed: reserved.used
      })!), (refusal) => Metrics.preflightRefused(refusal._tag))
    })
    // The session signature carries the registered valid_until, which the account compares with its own.
    const signWith = (hash: Felt, built: { readonly typedData: OutsideExecutionTypedData }) =>
      Effect.gen(function*() {
        const verdict = (yield* Ref.get(lastVerdict))!
        const sig = Redacted.isRedacted(key)
          ? yield* crypto.sign(hash, key)
          : yield* key.signSession({ wallet: wallet.publicKey, sessionPublicKey: session.publicKey, typedData: built.typedData, calls, hash })
        return sessionSignature(session.publicKey, sig, verdict.data.validUntil)
      })
    return yield* submitOnce(
      {
        wallet: wallet.publicKey,
        calls,
        purpose: "execute",
        sessionPublicKey: session.publicKey,
        idempotencyKey,
        signWith,
        options,
        checkedBlock: Effect.map(Ref.get(lastVerdict), (verdict) => verdict?.block),
        charges
      },
      { guard, reserve, ...(simulating ? { check } : {}) }
    ).pipe(
      Effect.catchIf(
        (error): error is PaymasterError => error instanceof PaymasterError && error.revertReason !== undefined,
        (error) =>
          explain(wallet.publicKey, session.publicKey, calls, error.revertReason ?? "", error).pipe(
            Effect.flatMap((mapped) => Effect.fail(mapped))
          )
      ),
      Effect.annotateLogs({ idempotencyKey })
    )
  })
