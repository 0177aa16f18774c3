/** Calls a Promise method as plain JavaScript would, and says how it failed: thrown at once, or rejected (and with what). */
export const outcome = async (call: () => unknown): Promise<{ readonly thrown?: unknown; readonly rejected?: unknown }> => {
  let promise: unknown
  try {
    promise = call()
  } catch (thrown) {
    return { thrown }
  }
  try {
    await promise
    return {}
  } catch (rejected) {
    return { rejected }
  }
}
