// What a queued call needs of its transport to learn that the client went away. AbortSignal fits,
// and so does a lighter object per call (HttpCall, WsPendingCall): the transports implement it and
// the batcher listens on it, without either importing the other.
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}
