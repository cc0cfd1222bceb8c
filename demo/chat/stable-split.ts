/**
 * Where the finished part of a streaming Markdown text ends: after the last blank line that is
 * not inside a ``` or ~~~ fence. Later text rarely changes how the blocks before it render (a
 * list continued after a blank line does; the full render at the end of the reply fixes that).
 */
export function stableSplit(text: string): number {
  let inFence = false;
  let split = 0;
  let pos = 0;
  for (const line of text.split('\n')) {
    const end = pos + line.length + 1;
    if (/^\s{0,3}(```|~~~)/.test(line)) inFence = !inFence;
    else if (!inFence && line.trim() === '' && end <= text.length) split = end;
    pos = end;
  }
  return split;
}
