export interface AutoLockSettings {
  /** lock-failed-attempts-count */
  failedAttempts: number;
  /** lock-period, ms */
  periodMs: number;
  /** lock-for, ms; 0 = the lock never expires */
  lockForMs: number;
}
