/** The console's command-line splitting, kept apart so it can be tested. */
import { KvError } from './errors';

/** Splits a command line into words, honouring double quotes and \\ escapes. */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && quoted && i + 1 < line.length) {
      word += line[++i];
    } else if (ch === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quoted) throw new KvError('InvalidRequest', 'a quoted word is not closed');
  if (inWord) words.push(word);
  return words;
}

/** A count with its noun, plural unless one: "1 key", "3 keys". */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
