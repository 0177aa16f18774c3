/** The entrypoint and event selectors the devnet's contracts dispatch on. */
import { selectorOf } from "../Schemas.js"

export const sel = (name: string) => BigInt(selectorOf(name))
export const S = {
  add_or_update_session_key: sel("add_or_update_session_key"),
  revoke_session_key: sel("revoke_session_key"),
  get_session_data: sel("get_session_data"),
  get_public_key: sel("get_public_key"),
  getPublicKey: sel("getPublicKey"),
  get_snip9_version: sel("get_snip9_version"),
  compute_session_message_hash: sel("compute_session_message_hash"),
  register_interfaces: sel("register_interfaces"),
  get_session_allowed_entrypoints_len: sel("get_session_allowed_entrypoints_len"),
  get_session_allowed_entrypoint_at: sel("get_session_allowed_entrypoint_at"),
  is_valid_signature: sel("is_valid_signature"),
  supports_interface: sel("supports_interface"),
  is_valid_outside_execution_nonce: sel("is_valid_outside_execution_nonce"),
  get_contract_info: sel("get_contract_info"),
  set_spending_policy: sel("set_spending_policy"),
  remove_spending_policy: sel("remove_spending_policy"),
  get_spending_policy: sel("get_spending_policy"),
  execute_from_outside_v2: sel("execute_from_outside_v2"),
  __execute__: sel("__execute__"),
  __validate__: sel("__validate__"),
  set_public_key: sel("set_public_key"),
  setPublicKey: sel("setPublicKey"),
  upgrade: sel("upgrade"),
  balance_of: sel("balance_of"),
  balanceOf: sel("balanceOf"),
  transfer: sel("transfer"),
  transfer_from: sel("transfer_from"),
  transferFrom: sel("transferFrom"),
  approve: sel("approve"),
  increase_allowance: sel("increase_allowance"),
  increaseAllowance: sel("increaseAllowance"),
  allowance: sel("allowance"),
  decimals: sel("decimals"),
  symbol: sel("symbol"),
  name: sel("name"),
  total_supply: sel("total_supply"),
  totalSupply: sel("totalSupply")
}

export const EVENT = {
  Transfer: sel("Transfer"),
  Approval: sel("Approval"),
  SessionKeyAdded: sel("SessionKeyAdded"),
  SessionKeyRevoked: sel("SessionKeyRevoked"),
  SpendingPolicySet: sel("SpendingPolicySet"),
  SpendingPolicyRemoved: sel("SpendingPolicyRemoved")
}
