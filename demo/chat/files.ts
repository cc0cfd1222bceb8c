/**
 * Local model files, picked or dropped: a single .gguf, or the files of a safetensors model
 * (config.json, tokenizer files, weights), loose or as a folder. The engine reads them in place,
 * slice by slice; nothing is uploaded anywhere.
 */

export interface LocalPick {
  /** A lone .gguf goes in as a File; a model's files as File[]. */
  model: File | File[];
  title: string;
  bytes: number;
}

export function describePick(files: File[], folderName?: string): LocalPick | string {
  const usable = files.filter((f) => !f.name.startsWith('.'));
  if (usable.length === 0) return 'No files were given.';
  const ggufs = usable.filter((f) => /\.gguf$/i.test(f.name));
  const bytes = usable.reduce((s, f) => s + f.size, 0);
  if (ggufs.length === 1 && !usable.some((f) => /\.safetensors$/i.test(f.name))) {
    return { model: ggufs[0]!, title: ggufs[0]!.name, bytes: ggufs[0]!.size };
  }
  if (ggufs.length > 1) return `Choose one .gguf file at a time (got ${ggufs.length}: ${ggufs.map((f) => f.name).join(', ')}).`;
  if (!usable.some((f) => /\.safetensors$/i.test(f.name))) return 'Hearth loads a .gguf file, or a safetensors model: its .safetensors files with config.json and the tokenizer files.';
  if (!usable.some((f) => /(^|\/)config\.json$/.test(relative(f)))) return 'A safetensors model needs its config.json (and tokenizer.json) next to the weights: choose the whole folder.';
  const folder = folderName ?? (usable[0] as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0];
  return { model: usable, title: folder || `${usable.length} files`, bytes };
}

function relative(f: File): string {
  return (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
}

/** Files from a drop, walking into dropped folders (one level of model folder is what matters). */
export async function filesFromDrop(dt: DataTransfer): Promise<{ files: File[]; folder?: string }> {
  // entries must be taken while the drop event runs: the DataTransfer empties after it
  const entries = [...dt.items].map((i) => (i.kind === 'file' ? i.webkitGetAsEntry?.() : null)).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return { files: [...dt.files] };
  const out: File[] = [];
  for (const e of entries) await walk(e, out, 0);
  const folder = entries.length === 1 && entries[0]!.isDirectory ? entries[0]!.name : undefined;
  return { files: out, folder };
}

async function walk(entry: FileSystemEntry, out: File[], depth: number): Promise<void> {
  if (entry.isFile) {
    out.push(await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)));
    return;
  }
  if (!entry.isDirectory || depth > 2) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries hands out a folder in batches until it returns an empty one
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, out, depth + 1);
  }
}
