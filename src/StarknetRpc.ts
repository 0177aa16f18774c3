/**
 * The reads the session domain needs from a Starknet node. The devnet provides one layer of this tag; the
 * JSON-RPC layer provides another.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { RpcError, TransactionNotFound } from "./Errors.js"
import type { Address, Felt, TransactionStatus, TxHash } from "./Schemas.js"

/**
 * The latest closed block.
 *
 * @since 0.1.0
 * @category models
 */
export interface BlockInfo {
  readonly blockNumber: number
  /** Seconds since the Unix epoch. */
  readonly timestamp: number
}

/**
 * An event in a receipt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Event {
  readonly fromAddress: Felt
  readonly keys: ReadonlyArray<Felt>
  readonly data: ReadonlyArray<Felt>
}

/**
 * A transaction receipt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Receipt {
  readonly transactionHash: TxHash
  readonly finalityStatus: TransactionStatus["finalityStatus"]
  readonly executionStatus: "SUCCEEDED" | "REVERTED"
  readonly revertReason?: string
  readonly events: ReadonlyArray<Event>
  readonly blockNumber?: number
}

/**
 * A read-only contract call. `entrypoint` is a name or a selector.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallRequest {
  readonly contractAddress: Address
  readonly entrypoint: string
  readonly calldata: ReadonlyArray<Felt>
}

/**
 * The Starknet reads the library uses.
 *
 * @since 0.1.0
 * @category tags
 */
export class StarknetRpc extends Context.Tag("starknet-sessions/StarknetRpc")<
  StarknetRpc,
  {
    readonly chainId: Effect.Effect<Felt, RpcError>
    readonly latestBlock: Effect.Effect<BlockInfo, RpcError>
    /** A view call at the latest block; a contract error fails with `RpcError` code 40 and the revert reason. */
    readonly call: (request: CallRequest) => Effect.Effect<ReadonlyArray<Felt>, RpcError>
    readonly getTransactionStatus: (txHash: TxHash) => Effect.Effect<TransactionStatus, RpcError | TransactionNotFound>
    readonly getTransactionReceipt: (txHash: TxHash) => Effect.Effect<Receipt, RpcError | TransactionNotFound>
    readonly getNonce: (address: Address) => Effect.Effect<Felt, RpcError>
  }
>() {}
