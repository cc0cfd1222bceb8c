import * as Comlink from 'comlink';
import { HearthError, type SerializedHearthError } from '../errors.js';

interface Thrown {
  value: unknown;
}
interface SerializedThrow {
  hearth?: SerializedHearthError;
  [key: string]: unknown;
}

let installed = false;

/**
 * Comlink sends thrown errors as plain {message, name, stack}; this keeps HearthError's code,
 * hint and details across the worker boundary. Installed on both sides.
 */
export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const base = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<Thrown, SerializedThrow>;
  Comlink.transferHandlers.set('throw', {
    canHandle: base.canHandle,
    serialize(thrown: Thrown): [SerializedThrow, Transferable[]] {
      if (thrown.value instanceof HearthError) return [{ hearth: thrown.value.toJSON() }, []];
      return base.serialize(thrown);
    },
    deserialize(s: SerializedThrow): Thrown {
      if (s.hearth) throw HearthError.fromJSON(s.hearth);
      return base.deserialize(s);
    },
  } as Comlink.TransferHandler<Thrown, SerializedThrow>);
}
