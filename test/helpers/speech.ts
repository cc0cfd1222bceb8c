/**
 * Speech for the Whisper acceptance runs: known English sentences and a ~70 s passage spoken by
 * Debian's espeak-ng on this machine, and word error rate after a normalisation in the spirit of
 * Whisper's EnglishTextNormalizer (lowercase, no punctuation or brackets, hyphens as spaces,
 * spelled numbers as digits, a few spelling variants folded).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** Short sentences, 2 to 20 s each when spoken at 140 words per minute (3.5 to 11 s with ESPEAK_VOICE). */
export const SENTENCES: readonly string[] = [
  'The quick brown fox jumps over the lazy dog.',
  'Please call Stella and ask her to bring these things with her from the store.',
  'The weather is lovely today, so we are going for a long walk in the park.',
  'My grandmother keeps a small garden full of tomatoes, beans and bright yellow flowers.',
  'A computer program runs the same steps every time you give it the same input.',
  'We will meet at the train station at seven in the morning.',
  'The library closes early on Sundays, so return your books before noon.',
  'She opened the window and listened to the birds singing in the old oak tree.',
  'Turn left at the second traffic light and the museum will be on your right.',
  'Good morning everyone, thank you for coming to the meeting.',
  'The children built a tall castle of sand on the beach while their parents read quietly nearby, and when the tide came in the waves slowly washed the walls away.',
  'Water boils at one hundred degrees at sea level.',
];

/** About 70 s of speech at 140 words per minute (the bakery text, written for these tests, extended from 52 to ~70 s). */
export const PASSAGE =
  'Every morning the small bakery on the corner opens its doors before the sun comes up. ' +
  'The baker arrives in the dark, turns on the ovens, and begins to mix flour, water, salt and yeast. ' +
  'By the time the first customers walk in, the shelves are full of warm bread, sweet rolls and little cakes. ' +
  'The baker knows most of them by name and often remembers what they like to order. ' +
  'Children press their faces against the glass to look at the chocolate pastries, and their parents smile and buy one more than they planned. ' +
  'In the afternoon the shop grows quiet, and the baker cleans the kitchen and prepares the dough for the next day. ' +
  'It is hard work and the hours are long, but the baker says there is nothing better than the smell of fresh bread in the morning. ' +
  'An old man buys two loaves every week, one for himself and one for his neighbor, who can no longer walk to the shop. ' +
  'When the last loaf is sold, the baker turns off the lights, locks the door and walks home through the quiet town.';

/** An espeak-ng voice (`-v`) at a speed in words per minute (`-s`). */
export interface EspeakVoice {
  voice: string;
  wpm: number;
}

/**
 * The voice of the acceptance runs: espeak-ng's Received Pronunciation at 140 words per minute
 * (its default is 175). Chosen for all sentences together on faster-whisper's figures (the
 * reference runtime, not Hearth): of en-us, en-gb and en-gb-x-rp at 120/140/160 wpm it is the one
 * with the lowest mean WER whose worst sentence stays under 35% (en-us@140, the earlier voice, has
 * "The quick brown fox" at 44% and "Water boils..." at 75% on faster-whisper); the table is in
 * bench/results/2026-12-06-whisper-acceptance.md.
 */
export const ESPEAK_WPM = 140;
export const ESPEAK_VOICE: EspeakVoice = { voice: 'en-gb-x-rp', wpm: ESPEAK_WPM };

/** 'en-us@140' <-> { voice: 'en-us', wpm: 140 }. */
export const voiceName = (v: EspeakVoice): string => `${v.voice}@${v.wpm}`;
export function parseVoice(s: string): EspeakVoice {
  const m = /^([a-z0-9+-]+)@(\d+)$/i.exec(s.trim());
  if (!m) throw new Error(`voice ${JSON.stringify(s)}: expected espeak-ng voice@wpm, e.g. en-us@140`);
  return { voice: m[1]!, wpm: Number(m[2]) };
}

/** Speaks `text` with espeak-ng into `dir/name.wav` (22.05 kHz mono WAV) and returns the path. */
export function speak(text: string, dir: string, name: string, voice: EspeakVoice = ESPEAK_VOICE): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.wav`);
  if (!existsSync(path)) execFileSync('espeak-ng', ['-v', voice.voice, '-s', String(voice.wpm), '-w', path, text]);
  return path;
}

export function hasEspeak(): boolean {
  try {
    execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const SPELLING: Record<string, string> = { colour: 'color', favourite: 'favorite', grey: 'gray', centre: 'center', theatre: 'theater', ok: 'okay' };

/** Spelled numbers (up to the thousands) to digits: 'one hundred' -> '100', 'seven' -> '7'. */
function numbersToDigits(words: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  const small = (w: string | undefined): number | null => {
    if (w === undefined) return null;
    if (ONES.includes(w)) return ONES.indexOf(w);
    if (TENS.includes(w) && w !== '') return TENS.indexOf(w) * 10;
    return null;
  };
  while (i < words.length) {
    let value: number | null = null;
    let j = i;
    let current = 0;
    for (;;) {
      const w = words[j];
      const s = small(w);
      if (s !== null) {
        current += s;
        value = 0;
        j++;
      } else if ((w === 'hundred' || w === 'thousand') && value !== null) {
        current = (current || 1) * (w === 'hundred' ? 100 : 1000);
        j++;
      } else if (w === 'and' && value !== null && small(words[j + 1]) !== null) {
        j++;
      } else break;
    }
    if (value === null) out.push(words[i++]!);
    else {
      out.push(String(current));
      i = j;
    }
  }
  return out;
}

export function normalizeEnglish(text: string): string[] {
  const words = text
    .toLowerCase()
    .replace(/[[(<][^\])>]*[\])>]/g, ' ')
    .replace(/[-–—]/g, ' ')
    .replace(/[^a-z0-9' ]/g, ' ')
    .replace(/'/g, '')
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => SPELLING[w] ?? w);
  return numbersToDigits(words);
}

/** Word error rate of `hyp` against `ref`: (substitutions + insertions + deletions) / reference words. */
export function wordErrorRate(ref: string, hyp: string): number {
  const r = normalizeEnglish(ref);
  const h = normalizeEnglish(hyp);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return r.length === 0 ? (h.length === 0 ? 0 : 1) : prev[h.length]! / r.length;
}
