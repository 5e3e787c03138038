import { expect } from "bun:test";

/** The error `p` rejects with, checked to be a `type`; fails the test when `p` resolves. */
export async function rejectionOf<E>(p: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error("expected the call to fail");
}
