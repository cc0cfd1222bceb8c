/**
 * The parts of the origin private file system API that lib.dom does not declare (or declares
 * without async iteration): shared by the weight cache and the session store.
 */

/** FileSystemSyncAccessHandle, as dedicated workers have it. */
export interface SyncAccessHandle {
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

export type FileHandle = FileSystemFileHandle & { createSyncAccessHandle?: () => Promise<SyncAccessHandle> };

export interface IterableDirectory {
  entries(): AsyncIterable<[string, FileSystemHandle]>;
}
