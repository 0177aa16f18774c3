/**
 * The devnet's public shapes: its options, faults and control handle.
 */
import { Context, type Duration, type Effect, type Redacted } from "effect"
import type { InvalidInput, PaymasterError, RpcError } from "../Errors.js"
import type { OutsideCall } from "../OutsideExecution.js"
import type { Address, Felt, TransactionStatus, TxHash, WalletData } from "../Schemas.js"

/**
 * Misbehaviours to test against, all off by default.
 *
 * @since 0.1.0
 * @category models
 */
export interface Faults {
  /** Delay before every request is answered. */
  readonly latency?: Duration.DurationInput
  /** The next N requests (RPC or paymaster) fail with a transient error before doing anything. */
  readonly failNext?: number
  /** The HTTP shape of those failures: 503 (default) or 429 with a `Retry-After` of `retryAfterSeconds`. */
  readonly failStatus?: 429 | 503
  readonly retryAfterSeconds?: number
  /**
   * The next N requests lose their connection (on the wire the socket is closed without an answer): `dropWhen:
   * "before"` (default) before the request is carried out; `"after"` once it is carried out, so only the answer
   * is lost (a submission went through and its hash never reached the caller).
   */
  readonly dropNext?: number
  readonly dropWhen?: "before" | "after"
  /**
   * The next N requests are carried out, then their answers are held (the connection stays open, nothing is sent)
   * until the faults are cleared: a point a test can observe (`heldNext` back to 0, the request's effect visible)
   * and act at, e.g. kill the caller while a submission's answer is on its way. Clearing sends the held answers.
   */
  readonly holdNext?: number
  /** The first N requests `holdNext` would count are let through (e.g. hold the third submission: skip 2). */
  readonly holdSkip?: number
  /**
   * `failNext`, `dropNext` and `holdNext` count only requests of these methods (`starknet_call`, `starknet_getTransactionStatus`,
   * `paymaster_buildTransaction`, `paymaster_executeTransaction`, …); by default every request.
   */
  readonly faultMethods?: ReadonlyArray<string>
  /** Transactions submitted from now on stay `RECEIVED` for this many extra blocks. */
  readonly holdBlocks?: number
  /**
   * The served devnet announces the last this-many blocks orphaned to its WebSocket subscribers, once
   * (`starknet_subscriptionReorg`), then sends each subscription again what it watches from the first of them (a
   * transaction's current status, the heads and events since). The chain itself does not change.
   */
  readonly reorgBlocks?: number
  /** Reads (`StarknetRpc`: calls, nonces, blocks, statuses) see the chain as it was this many blocks ago; the paymaster sees the present. */
  readonly readLagBlocks?: number
  /**
   * The next N paymaster executes are estimated on the latest closed state, missing the transactions pending in the
   * block being built, as when those land between the paymaster's estimate and its send (AVNU sends with no second
   * simulation): a payment they make fail is accepted, sent, and reverts on chain.
   */
  readonly staleEstimateNext?: number
  /** The paymaster returns typed data that differs from what was asked, in this field. */
  readonly alterTypedData?: "calldata" | "to" | "selector" | "chainId" | "window" | "caller"
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DevnetOptions {
  /** Default `SN_SEPOLIA`. */
  readonly chainId?: string
  /** Default 100 milliseconds, so code that waits for blocks finishes at once. */
  readonly blockTime?: Duration.DurationInput
  /** Blocks after inclusion before `ACCEPTED_ON_L1` (default 10). */
  readonly l1AcceptAfterBlocks?: number
  /** Makes wallet owner keys reproducible. */
  readonly seed?: string
  /** The paymaster names its relayer as the caller instead of `ANY_CALLER`. */
  readonly callerMode?: "any" | "relayer"
  readonly faults?: Faults
  /**
   * `"instant"` (default): transactions are visible at once and `latest` is the block just closed, for unit tests.
   * `"network"`: the real network as measured (docs/devnet.md, "Profiles"): each option below takes its network
   * default unless given.
   */
  readonly profile?: "instant" | "network"
  /**
   * How long after a block closes readers still see the one before as `latest` (calls, nonces, blocks and statuses
   * at `latest`; a transaction in a block not yet served is `PRE_CONFIRMED`). Default 0; network 1.5 s.
   */
  readonly latestLag?: Duration.DurationInput
  /**
   * How long a transaction the paymaster submitted stays unknown to the node (error 29 on its status and receipt,
   * and out of the `pre_confirmed` view, the paymaster's simulations included). Default 0; network 0.5 s.
   */
  readonly submissionHidden?: Duration.DurationInput
  /** Then `CANDIDATE` (no execution status) for this long before `PRE_CONFIRMED`. Default 0 in both profiles. */
  readonly candidateFor?: Duration.DurationInput
  /**
   * AVNU's duplicate filter: the same (user, outside-execution nonce) sent to the paymaster again within this long is
   * refused with 156 `execution error Tx already sent`, even when the first attempt failed (the entry is stored
   * before the estimate). Default 0 (off); network 30 s.
   */
  readonly duplicateFilter?: Duration.DurationInput
  /**
   * `"snip29"` (default): invalid time bounds are 157. `"avnu"` (network): as AVNU raises them, invalid time bounds
   * are 156 `invalid time bounds`, and the served devnet shapes 156's data as AVNU's Rust Debug string and 163's
   * as AVNU's messages.
   */
  readonly paymasterErrors?: "snip29" | "avnu"
  /**
   * The windows the devnet's paymaster builds when none is asked for: `"devnet"` (default: now − 60 s to now + 3600 s;
   * Chipi's prepare-typed-data the block's timestamp − 1 s to + 300 s) or `"avnu"` (network: execute_after 1,
   * execute_before the server's clock + 3600 s, for SNIP-29 and Chipi's route alike).
   */
  readonly timeBounds?: "devnet" | "avnu"
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CreateWalletParams {
  readonly encryptKey: string | Redacted.Redacted<string>
  /** Tokens to mint to the wallet, in raw units, by symbol. */
  readonly fund?: { readonly USDC?: bigint; readonly STRK?: bigint }
  /** `legacy` (default, as existing wallets are stored) or `v1`. */
  readonly keyFormat?: "legacy" | "v1"
}

/**
 * A resource's bound in an INVOKE v3: `maxAmount` (u64) units at `maxPricePerUnit` (u128) each.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourceBound {
  readonly maxAmount: bigint
  readonly maxPricePerUnit: bigint
}

/**
 * The account's own INVOKE v3 transaction (direct path: `__validate__` then `__execute__`). An owner signature
 * (`[r, s]`) signs the transaction's SNIP-8 INVOKE v3 hash, as OpenZeppelin's `validate_transaction` checks it: the
 * hash of the sender, the calls serialized as `__execute__` reads them, the nonce, the chain id and the fields
 * below (by default zero bounds and tip, no paymaster or deployment data, L1 modes; `invokeHash` gives it). A
 * session signature (`[key, r, s, valid_until]`) signs the spec's direct-path hash
 * (`compute_session_message_hash`), whatever the fee fields.
 *
 * @since 0.1.0
 * @category models
 */
export interface InvokeParams {
  readonly account: string
  readonly calls: ReadonlyArray<OutsideCall>
  readonly signature: ReadonlyArray<string>
  readonly nonce: bigint
  readonly resourceBounds?: { readonly l1Gas: ResourceBound; readonly l2Gas: ResourceBound; readonly l1DataGas: ResourceBound }
  /** u64. */
  readonly tip?: bigint
  readonly paymasterData?: ReadonlyArray<string>
  readonly accountDeploymentData?: ReadonlyArray<string>
  readonly nonceDataAvailabilityMode?: "L1" | "L2"
  readonly feeDataAvailabilityMode?: "L1" | "L2"
}

/**
 * A block as the devnet's node reads it: by number, by hash, or by tag (`latest`; `l1_accepted`, the newest block
 * accepted on L1; `pre_confirmed`, the block being built). State read at `pre_confirmed` on the wire sees the pending
 * transactions due in the block being built; `DevnetHandle.block`, which answers closed blocks, gives the latest
 * closed one for it.
 *
 * @since 0.1.0
 * @category models
 */
export type BlockId =
  | "latest"
  | "l1_accepted"
  | "pre_confirmed"
  | { readonly blockNumber: number }
  | { readonly blockHash: string }

/**
 * A closed block and its INVOKE transactions, as the devnet serves them.
 *
 * @since 0.1.0
 * @category models
 */
export interface DevnetBlock {
  readonly blockNumber: number
  readonly blockHash: Felt
  readonly parentHash: Felt
  readonly timestamp: number
  readonly status: "ACCEPTED_ON_L2" | "ACCEPTED_ON_L1"
  readonly transactions: ReadonlyArray<{
    readonly transactionHash: TxHash
    readonly senderAddress: Address
    readonly nonce: Felt
    readonly calldata: ReadonlyArray<Felt>
    readonly signature: ReadonlyArray<Felt>
    readonly resourceBounds: { readonly l1Gas: ResourceBound; readonly l2Gas: ResourceBound; readonly l1DataGas: ResourceBound }
    readonly tip: bigint
    readonly paymasterData: ReadonlyArray<Felt>
    readonly accountDeploymentData: ReadonlyArray<Felt>
    readonly nonceDataAvailabilityMode: "L1" | "L2"
    readonly feeDataAvailabilityMode: "L1" | "L2"
  }>
}

/**
 * The devnet's control handle.
 *
 * @since 0.1.0
 * @category models
 */
export interface DevnetHandle {
  readonly chainId: Felt
  /** The address the paymaster relays from. */
  readonly relayer: Address
  /** Fails with `InvalidInput` for an empty or non-string PIN, an unknown token or key format, a negative amount. */
  readonly createWallet: (params: CreateWalletParams) => Effect.Effect<WalletData, InvalidInput>
  /** Fails with `InvalidInput` for a negative amount, an unknown token, or a balance (or supply) that would pass u256. */
  readonly mint: (token: string, to: string, amount: bigint) => Effect.Effect<void, InvalidInput>
  readonly balanceOf: (token: string, account: string) => Effect.Effect<bigint>
  /** Moves the chain's clock forward (on top of `Clock`). */
  readonly advanceTime: (by: Duration.DurationInput) => Effect.Effect<void>
  /** Closes a block now, with whatever is pending. */
  readonly mineBlock: Effect.Effect<{ readonly blockNumber: number; readonly timestamp: number }>
  readonly blockNumber: Effect.Effect<number>
  readonly blockTimestamp: Effect.Effect<number>
  /** The raw `get_session_data` of an account, `[valid_until, max_calls, calls_used, len]`. */
  readonly sessionData: (account: string, sessionPublicKey: string) => Effect.Effect<ReadonlyArray<bigint>>
  /** The allow-list stored for a session (what the chain keeps but does not expose). */
  readonly allowedEntrypoints: (account: string, sessionPublicKey: string) => Effect.Effect<ReadonlyArray<Felt>>
  /**
   * A closed block by id, as readers see it (`readLagBlocks` included); an unknown one fails with code 24. A read
   * like any other: faults apply to it as to `starknet_getBlockWithTxs`.
   */
  readonly block: (id: BlockId) => Effect.Effect<DevnetBlock, RpcError>
  /** Every transaction the chain has seen, in submission order. */
  readonly transactions: Effect.Effect<ReadonlyArray<{ readonly hash: TxHash; readonly status: TransactionStatus }>>
  /**
   * Submits the account's own invoke transaction (direct path). Validation runs at submission: one it fails is
   * refused (code 55; 52 for a nonce that is not the account's next) and never included.
   */
  readonly invoke: (params: InvokeParams) => Effect.Effect<TxHash, PaymasterError>
  /** The SNIP-8 INVOKE v3 hash of the account's own invoke: what an owner signature signs, and its transaction hash. */
  readonly invokeHash: (params: Omit<InvokeParams, "signature">) => Effect.Effect<TxHash>
  /** Submits an `execute_from_outside_v2` as the relayer without the paymaster's simulation. */
  readonly submitOutside: (account: string, calldata: ReadonlyArray<string>) => Effect.Effect<TxHash>
  readonly setFaults: (faults: Faults) => Effect.Effect<void>
  readonly clearFaults: Effect.Effect<void>
  /** Calls since creation that the devnet answered (RPC and paymaster). */
  readonly requestCount: Effect.Effect<number>
  /** The faults in force. */
  readonly faults: Effect.Effect<Faults>
}

/**
 * The control handle of the devnet a layer provides.
 *
 * @since 0.1.0
 * @category tags
 */
export class Devnet extends Context.Tag("starknet-session-keys/Devnet")<Devnet, DevnetHandle>() {}
