/** A registration or a pending timer; cancel() is safe to call more than once. */
export interface Handle {
  cancel(): void;
}
