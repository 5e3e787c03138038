import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import { databasePath, ensureStorageDir } from "./database.ts";
import { otherGoStateDirs } from "./go-import/read.ts";
import { StateStore } from "./store.ts";

export { acquireInstanceLock, lockHolder, InstanceLockedError, type InstanceLock } from "./instance-lock.ts";
export { databasePath, ensureStorageDir, StateUnreadableError } from "./database.ts";
export { StateStore, type AuditCommit } from "./store.ts";
export { MetaState, StartTimeChangedError, type Engine } from "./meta-table.ts";
export { CheckpointState, type AuditPosition, type ChunkProgress, type LegacyCheckpoint } from "./checkpoint-tables.ts";
export { SessionQueueState, type SessionRow, type SessionStatus, type SessionUpload } from "./session-table.ts";
export { DeadLetterState, type StoredDeadLetter } from "./dead-letter-table.ts";
export { LateState, type DueSweep, type ReadSlice, type SweepProgress } from "./late-tables.ts";
export { DigestState, HOUR_MS, hourOf, idDigest, type HourDigest } from "./digest-table.ts";
export { LockState, type LockKey, type PendingLock } from "./autolock-tables.ts";
export { RepairState, type RepairHour, type RepairProgress, type RepairRequest, type RepairStatus } from "./repair-table.ts";
export { SCHEMA_VERSION } from "./schema.ts";
export { storageError } from "./storage-errors.ts";

/** Opens (creating) the state of one cluster; the cluster name comes from Teleport's Ping. */
export function openClusterState(storageDir: string, clusterName: string): StateStore {
  ensureStorageDir(storageDir);
  const store = StateStore.open(databasePath(storageDir, clusterName), { create: true });
  if (store.meta.clusterName() === undefined) store.meta.setClusterName(clusterName);
  return store;
}

/**
 * For commands that run without Teleport (status, dead-letters): the state file of `cluster`, or
 * the only one in the directory.
 */
export function findStateFile(storageDir: string, cluster?: string): string {
  if (cluster) {
    const path = databasePath(storageDir, cluster);
    if (!existsSync(path)) throw new ConfigError(`no state for cluster "${cluster}" in storage ${storageDir}; check storage and cluster`);
    return path;
  }
  const files = existsSync(storageDir) ? readdirSync(storageDir).filter((f) => f.endsWith(".sqlite")) : [];
  if (files.length === 0) {
    const go = otherGoStateDirs(storageDir, "");
    const hint = go.length > 0 ? `; the Go tool's state in ${go.join(", ")} is imported by the first start, or now by migrate` : "";
    throw new ConfigError(`no export state in storage ${storageDir}; check storage (it is created by the first start)${hint}`);
  }
  if (files.length > 1) {
    throw new ConfigError(`storage ${storageDir} holds several clusters (${files.join(", ")}); choose one with --cluster`);
  }
  return join(storageDir, files[0]!);
}
