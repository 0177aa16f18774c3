/**
 * The SNIP-29 endpoint of the served devnet (`paymaster_*`), over the `Paymaster` service.
 */
import { Effect, Schema } from "effect"
import { OutsideExecutionTypedData } from "../../OutsideExecution.js"
import { Paymaster } from "../../Paymaster.js"
import { Address, Call, decode, Felt } from "../../Schemas.js"
import { decodeParams, invalid, type Methods, objectParams, Transient, WireError } from "./jsonrpc.js"

export const paymasterMethods = Effect.gen(function*() {
  const paymaster = yield* Paymaster
  const pmFail = (e: { readonly code: number; readonly message: string; readonly revertReason?: string | undefined; readonly transient: boolean }): Effect.Effect<never, WireError | Transient> =>
    e.transient
      ? Effect.fail(new Transient(e.code))
      : Effect.fail(new WireError(e.code, e.message, e.revertReason !== undefined ? { execution_error: e.revertReason } : undefined))
  const methods: Methods = {
    paymaster_isAvailable: () => paymaster.isAvailable.pipe(Effect.catchAll(pmFail)),
    paymaster_buildTransaction: (params) =>
      Effect.gen(function*() {
        const p = objectParams(params)
        const invoke = (p["transaction"] as Record<string, Record<string, unknown>> | undefined)?.["invoke"]
        if (invoke === undefined) return yield* invalid("transaction.invoke")
        const calls = yield* decode(Schema.Array(Call))(
          ((invoke["calls"] as Array<Record<string, unknown>>) ?? []).map((c) => ({ contractAddress: c["to"], entrypoint: c["selector"], calldata: c["calldata"] }))
        ).pipe(Effect.mapError((e) => new WireError(-32602, e.message)))
        const bounds = (p["parameters"] as Record<string, Record<string, unknown>> | undefined)?.["time_bounds"]
        const built = yield* paymaster.buildTransaction({
          userAddress: String(invoke["user_address"]) as never,
          calls,
          ...(bounds !== undefined
            ? { timeBounds: { executeAfter: Number(BigInt(String(bounds["execute_after"]))), executeBefore: Number(BigInt(String(bounds["execute_before"]))) } }
            : {})
        }).pipe(Effect.catchAll(pmFail))
        return {
          type: "invoke",
          typed_data: built.typedData,
          parameters: p["parameters"],
          fee: {
            gas_token_price_in_strk: "0x0",
            estimated_fee_in_strk: "0x0",
            estimated_fee_in_gas_token: "0x0",
            suggested_max_fee_in_strk: "0x0",
            suggested_max_fee_in_gas_token: "0x0"
          }
        }
      }),
    paymaster_executeTransaction: (params) =>
      Effect.gen(function*() {
        const invoke = (objectParams(params)["transaction"] as Record<string, Record<string, unknown>> | undefined)?.["invoke"]
        if (invoke === undefined) return yield* invalid("transaction.invoke")
        const typedData = yield* Schema.decodeUnknown(OutsideExecutionTypedData)(invoke["typed_data"]).pipe(
          Effect.mapError(() => new WireError(-32602, "Invalid params: typed_data"))
        )
        const { signature, userAddress } = yield* decodeParams(Schema.Struct({ userAddress: Address, signature: Schema.Array(Felt) }))({
          userAddress: invoke["user_address"],
          signature: invoke["signature"]
        })
        const result = yield* paymaster.executeTransaction({ userAddress, typedData, signature }).pipe(Effect.catchAll(pmFail))
        return { transaction_hash: result.transactionHash, tracking_id: result.transactionHash }
      }),
  }
  return methods
})
