/**
 * The chain's `session_allows` predicate, computed locally before anything is signed, with the precise typed error
 * for each refusal (the chain itself only says `Session: unauthorized selector`).
 */
import { Duration, Effect, type Schedule } from "effect"
import { BLOCKLISTED_ENTRYPOINTS, SELECTORS } from "../../Constants.js"
import {
  EntrypointNotAllowed,
  Expired,
  ForbiddenCall,
  MaxCallsExceeded,
  NotRegistered,
  type InvalidInput,
  type RpcError,
  type SessionRefusal
} from "../../Errors.js"
import { type Address, callSelector, type Call, type Felt, type SessionData, sessionDataFromFelts } from "../../Schemas.js"
import { selectorOf } from "../../Schemas.js"
import { type BlockInfo, StarknetRpc } from "../../StarknetRpc.js"
import { retryTransient } from "../../Transactions.js"
import { toHex } from "../crypto/felt.js"
import { lazily } from "./lazy.js"
import { sessionKeyOf, type View, viewsOf } from "./views.js"
import { checkSpending, isActive, NO_POLICY, type Policy, policyFromFelts, trackedTokens } from "./spending.js"

const BLOCKLIST = lazily(() => new Map<string, string>(BLOCKLISTED_ENTRYPOINTS.map((name) => [selectorOf(name), name])))

const nameOf = (call: Call): string | undefined => (/^0x/i.test(call.entrypoint) ? BLOCKLIST.get(callSelector(call)) : call.entrypoint)

/** What the chain stores for a session, in `get_session_data`'s order. */
export interface StoredSession {
  readonly validUntil: number
  readonly maxCalls: number
  readonly callsUsed: number
  readonly allowedEntrypointsLen: number
}

export interface PreflightInput {
  readonly walletAddress: string
  readonly sessionPublicKey: Felt
  readonly stored: StoredSession
  /** Block time, seconds. */
  readonly now: number
  readonly calls: ReadonlyArray<Call>
  /** The allow-list, when known (the chain exposes only its length). */
  readonly allowedEntrypoints?: ReadonlyArray<Felt> | undefined
  /** Calls this process has already reserved beyond what the chain shows. */
  readonly callsUsed?: number
}

/** The refusal the chain would give these calls, in the spec's order; `undefined` when it would accept them. */
export const preflight = (input: PreflightInput): SessionRefusal | undefined => {
  const { stored, now, calls, sessionPublicKey } = input
  if (stored.validUntil === 0) {
    return new NotRegistered({ sessionPublicKey, walletAddress: input.walletAddress })
  }
  if (now > stored.validUntil) {
    return new Expired({ sessionPublicKey, validUntil: stored.validUntil, now })
  }
  const callsUsed = Math.max(stored.callsUsed, input.callsUsed ?? 0)
  if (callsUsed >= stored.maxCalls) {
    return new MaxCallsExceeded({ sessionPublicKey, maxCalls: stored.maxCalls, callsUsed })
  }
  for (const call of calls) {
    const selector = callSelector(call)
    const blocked = BLOCKLIST.get(selector)
    if (blocked !== undefined) {
      return new ForbiddenCall({ rule: "blocklist", selector, entrypoint: blocked, contractAddress: call.contractAddress })
    }
  }
  if (stored.allowedEntrypointsLen === 0) {
    const wallet = BigInt(input.walletAddress)
    for (const call of calls) {
      if (BigInt(call.contractAddress) === wallet) {
        const selector = callSelector(call)
        const entrypoint = nameOf(call)
        return new ForbiddenCall({
          rule: "self-call",
          selector,
          contractAddress: call.contractAddress,
          ...(entrypoint !== undefined ? { entrypoint } : {})
        })
      }
    }
  } else if (input.allowedEntrypoints !== undefined) {
    const allowed = new Set(input.allowedEntrypoints.map((s) => BigInt(s)))
    for (const call of calls) {
      const selector = callSelector(call)
      if (!allowed.has(BigInt(selector))) {
        const entrypoint = nameOf(call)
        return new EntrypointNotAllowed({ selector, ...(entrypoint !== undefined ? { entrypoint } : {}) })
      }
    }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Reading what the check needs from the chain
// ---------------------------------------------------------------------------------------------------------------

/** An allow-list longer than this is not read entry by entry (it stays unknown, as before the views existed). */
export const MAX_LIST_READ = 512

/** A view the account does not have: an older class without it (the answer then means "unknown"). */
const isMissingEntrypoint = (error: RpcError) =>
  error.code === 21 || (error.code === 40 && /entry ?point.*not found|ENTRYPOINT_NOT_FOUND|invalid message selector/i.test(error.message))

const orMissing = <A>(effect: Effect.Effect<A, RpcError, StarknetRpc>, missing: A) =>
  Effect.catchIf(effect, isMissingEntrypoint, () => Effect.succeed(missing))

/**
 * The allow-list stored for a session: every `get_session_allowed_entrypoint_at` index read at once (one batch on
 * a batching transport). `undefined` when the account lacks the view, or the list is longer than `MAX_LIST_READ`.
 */
export const readAllowedEntrypoints = (
  wallet: Address,
  sessionPublicKey: Felt,
  length: number,
  retry: Schedule.Schedule<unknown, RpcError> | undefined
): Effect.Effect<ReadonlyArray<Felt> | undefined, RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    if (length === 0) return []
    if (length > MAX_LIST_READ) return undefined
    const rpc = yield* StarknetRpc
    const read = (index: number) =>
      retryTransient(
        rpc.call({ contractAddress: wallet, entrypoint: "get_session_allowed_entrypoint_at", calldata: [sessionPublicKey, toHex(BigInt(index)) as Felt] }),
        retry
      ).pipe(Effect.map((felts) => (felts[0] !== undefined ? toHex(BigInt(felts[0])) as Felt : undefined)))
    const entries = yield* orMissing(
      Effect.all(Array.from({ length }, (_, i) => read(i)), { concurrency: "unbounded" }),
      undefined
    )
    if (entries === undefined || entries.some((e) => e === undefined)) return undefined
    return entries as ReadonlyArray<Felt>
  })

/** The spending policy of a session for one token; an account without the extension has none. */
export const readPolicy = (
  wallet: Address,
  sessionPublicKey: Felt,
  token: Felt,
  retry: Schedule.Schedule<unknown, RpcError> | undefined
): Effect.Effect<Policy, RpcError, StarknetRpc> =>
  Effect.flatMap(StarknetRpc, (rpc) =>
    orMissing(
      retryTransient(rpc.call({ contractAddress: wallet, entrypoint: "get_spending_policy", calldata: [sessionPublicKey, token] }), retry)
        .pipe(Effect.map(policyFromFelts)),
      NO_POLICY
    ))

/** The service's `preflightReuse`, in milliseconds (0 when it reads every time). */
export const reuseMillis = (rpc: StarknetRpc["Type"]) => (rpc.preflightReuse === undefined ? 0 : Duration.toMillis(rpc.preflightReuse))

/**
 * Whether the next execute's preflight of this session will read afresh rather than reuse its recent view (the
 * account's nonce is then read in that same batch).
 */
export const readsAfresh = (rpc: StarknetRpc["Type"], wallet: Address, sessionPublicKey: Felt) =>
  viewsOf(rpc).recent(sessionKeyOf(wallet, sessionPublicKey), reuseMillis(rpc)) === undefined

/** What the chain holds for a session, as the check needs it. */
export interface ChainState {
  readonly data: SessionData
  /** Block time of the latest block, seconds. */
  readonly now: number
  /** The latest block these reads saw. */
  readonly block: BlockInfo
  /** The allow-list, when known (registered from here, or read from the chain). */
  readonly allowedEntrypoints: ReadonlyArray<Felt> | undefined
  /** The policies of the tokens the calls transfer or approve, by token. */
  readonly policies: ReadonlyMap<bigint, Policy>
  /** The multicalls of payloads sent from here that move those tokens and can still execute. */
  readonly pending: ReadonlyArray<ReadonlyArray<Call>>
  /** Whether this is a recent view reused (`readChainState`'s `reuse`), not reads made now. */
  readonly reused: boolean
}

/** A payload this process signed and that is not known final: its calls, nonce and window. */
export interface OpenPayload {
  readonly nonce: Felt
  readonly executeBefore: number
  readonly calls: ReadonlyArray<Call>
  /** The latest block when it was signed: it cannot have executed in that block or before. */
  readonly firstBlock: number
}

/**
 * The tokens a payload's calls move, kept per calls array: an open payload is looked at again by every execute of
 * its session while it stays open.
 */
const moves = new WeakMap<ReadonlyArray<Call>, ReadonlyArray<bigint>>()
const tokensMovedBy = (calls: ReadonlyArray<Call>): ReadonlyArray<bigint> => {
  let tokens = moves.get(calls)
  if (tokens === undefined) moves.set(calls, tokens = trackedTokens(calls).map((t) => BigInt(t)))
  return tokens
}

/** The tokens of `p` that the calls move too. */
const sharedTokens = (p: OpenPayload, moving: ReadonlySet<bigint>) => tokensMovedBy(p.calls).filter((t) => moving.has(t))

/**
 * Reads the session data, the block time, the policies of every token the calls move and, when this process
 * registered the session (`known`), its allow-list at that length, in one round (one batch on a batching
 * transport); the allow-list in a second round only when its length was not known or has changed. The list used is
 * always the chain's. The nonces of this process's open payloads that move the same tokens are read in that round
 * too, unless the last view of the session showed those tokens without a policy (then in a second round, only when
 * a policy has appeared since); a nonce once seen used is never read again.
 *
 * With `reuse`, the last view of the session that this layer read within its `preflightReuse` (see `StarknetRpc`),
 * and within half the time between the chain's blocks as this layer's reads have seen it, answers instead, when it holds everything these calls need: the policies of their tokens and, for every open
 * payload that matters, whether it could still execute at that view's block (its nonce read unused there, or it was
 * signed after that block). Such a view is the chain at its block, with this process's own payloads since applied
 * on top by the caller (the ledger's reservations and open payloads).
 */
export const readChainState = (
  wallet: Address,
  sessionPublicKey: Felt,
  calls: ReadonlyArray<Call>,
  known: ReadonlyArray<Felt> | undefined,
  retry: Schedule.Schedule<unknown, RpcError> | undefined,
  open: ReadonlyArray<OpenPayload> = [],
  options: { readonly reuse?: boolean } = {}
): Effect.Effect<ChainState, RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const cache = viewsOf(rpc)
    const key = sessionKeyOf(wallet, sessionPublicKey)
    const previous = cache.get(key)
    const used = cache.used.get(key)
    const tokens = trackedTokens(calls)
    const moving = new Set(tokens.map((t) => BigInt(t)))
    // Only payloads that move the same tokens matter; whether each can still execute is its nonce's answer.
    const candidates = moving.size === 0
      ? []
      : open.filter((p) => sharedTokens(p, moving).length > 0 && used?.has(BigInt(p.nonce)) !== true)
    const matters = (p: OpenPayload, policies: ReadonlyMap<bigint, Policy>) =>
      sharedTokens(p, moving).some((t) => {
        const policy = policies.get(t)
        return policy === undefined || isActive(policy)
      })
    const stateOf = (view: View, unused: (p: OpenPayload) => boolean, reused: boolean): ChainState => {
      const data = sessionDataFromFelts(view.felts, view.block.timestamp)
      const policies = new Map(tokens.map((token) => [BigInt(token), view.policies.get(BigInt(token)) ?? NO_POLICY] as const))
      return {
        data: view.allowedEntrypoints !== undefined ? { ...data, allowedEntrypoints: view.allowedEntrypoints } : data,
        now: view.block.timestamp,
        block: view.block,
        allowedEntrypoints: view.allowedEntrypoints,
        policies,
        // Unused and still inside its window: it may yet execute (a refused or reverted payload included).
        pending: candidates.filter((p) => matters(p, policies) && unused(p) && view.block.timestamp < p.executeBefore).map((p) => p.calls),
        reused
      }
    }

    if (
      options.reuse === true && previous !== undefined && cache.recent(key, reuseMillis(rpc)) === previous &&
      tokens.every((t) => previous.policies.has(BigInt(t))) &&
      candidates.every((p) => !matters(p, previous.policies) || previous.unused.has(BigInt(p.nonce)) || p.firstBlock >= previous.block.blockNumber)
    ) {
      return stateOf(previous, (p) => previous.unused.has(BigInt(p.nonce)) || p.firstBlock >= previous.block.blockNumber, true)
    }

    const readNonce = (p: OpenPayload) =>
      retryTransient(rpc.call({ contractAddress: wallet, entrypoint: "is_valid_outside_execution_nonce", calldata: [p.nonce] }), retry)
        .pipe(Effect.map(([valid]) => valid !== undefined && BigInt(valid) !== 0n))
    // Tokens the last view showed without a policy: their payloads' nonces wait for this round's policies.
    const first = candidates.filter((p) => previous === undefined || matters(p, previous.policies))
    // A list registered from here is read again with the session data (its length guessed from the record), so a
    // list changed since by another process is never trusted.
    const guess = known !== undefined && known.length > 0 ? known.length : 0
    const [felts, block, policyList, firstUnused, reread] = yield* Effect.all([
      retryTransient(
        rpc.call({ contractAddress: wallet, entrypoint: SELECTORS.get_session_data, calldata: [sessionPublicKey] }),
        retry
      ),
      retryTransient(rpc.latestBlock, retry),
      Effect.all(tokens.map((token) => readPolicy(wallet, sessionPublicKey, token, retry)), { concurrency: "unbounded" }),
      Effect.all(first.map(readNonce), { concurrency: "unbounded" }),
      readAllowedEntrypoints(wallet, sessionPublicKey, guess, retry)
    ], { concurrency: "unbounded" })
    const policies = new Map(tokens.map((token, i) => [BigInt(token), policyList[i]!] as const))
    const data = sessionDataFromFelts(felts, block.timestamp)
    const allowedEntrypoints = guess === data.allowedEntrypointsLen
      ? reread ?? known // an account without the views: the list registered from here
      : yield* readAllowedEntrypoints(wallet, sessionPublicKey, data.allowedEntrypointsLen, retry)
    // A policy that appeared since the last view: the nonces of the payloads it concerns, now.
    const second = candidates.filter((p) => !first.includes(p) && matters(p, policies))
    const secondUnused = second.length === 0 ? [] : yield* Effect.all(second.map(readNonce), { concurrency: "unbounded" })
    const unused = new Set<bigint>()
    const seenUsed = cache.usedOf(key)
    const note = (list: ReadonlyArray<OpenPayload>, answers: ReadonlyArray<boolean>) =>
      list.forEach((p, i) => (answers[i]! ? unused.add(BigInt(p.nonce)) : seenUsed.add(BigInt(p.nonce))))
    note(first, firstUnused)
    note(second, secondUnused)
    const at = performance.now()
    cache.sawBlock(block.blockNumber, at)
    const view: View = { block, at, felts, allowedEntrypoints, policies, unused }
    cache.set(key, view)
    return stateOf(view, (p) => unused.has(BigInt(p.nonce)), false)
  })

/**
 * The account's whole verdict on a session execute, in its order: `session_allows` first, then (the signature and
 * the call count pass in between) the spending policy.
 */
export const verdict = (
  input: Omit<PreflightInput, "stored" | "allowedEntrypoints"> & { readonly state: ChainState }
): SessionRefusal | InvalidInput | undefined =>
  preflight({ ...input, stored: input.state.data, allowedEntrypoints: input.state.allowedEntrypoints }) ??
    checkSpending({
      sessionPublicKey: input.sessionPublicKey,
      calls: input.calls,
      policies: input.state.policies,
      now: BigInt(input.now),
      pending: input.state.pending
    })
