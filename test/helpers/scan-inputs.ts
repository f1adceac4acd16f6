/**
 * Inputs for the free-text scanners (src/scan/), shared by their tests (step-count bounds) and the
 * micro-benchmark (bench/micro/scan.bench.ts), so both exercise the same hostile and typical texts.
 */

/** `unit` repeated and cut to exactly `length` characters. */
export function repeatTo(unit: string, length: number): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

/**
 * Hostile inputs by name: each aims at a way a naive scanner goes quadratic (rescanning a long local part
 * or domain from every '@', extending a phone window from every '+' or '0') or at the bounds of ours.
 */
export function adversarialInputs(length: number): Record<string, string> {
  const r = (unit: string): string => repeatTo(unit, length);
  return {
    'only @': r('@'),
    'a@ repeated': r('a@'),
    'only dots': r('.'),
    'a. repeated': r('a.'),
    'atext without @': r('a'),
    "atext and dots without @ (a.b-c_d+e%f'g)": r("a.b-c_d+e%f'g"),
    '64-char local then @': r(`${'a'.repeat(64)}@`),
    '70-char local then @': r(`${'a'.repeat(70)}@`),
    '@ then 4 labels of 62': r(`@${`${'a'.repeat(62)}.`.repeat(4)}`),
    'x@ then a. x130': r(`x@${'a.'.repeat(130)}`),
    'a@a. repeated': r('a@a.'),
    '@. repeated': r('@.'),
    'a@b- repeated': r('a@b-'),
    'a@b.c@d repeated': r('a@b.c@d'),
    '+1 repeated': r('+1'),
    '+1 space repeated': r('+1 '),
    'only +': r('+'),
    'only digits': r('1'),
    'only zeros': r('0'),
    'digit space repeated': r('1 '),
    '00 space repeated': r('00 '),
    '00 1 space repeated': r('00 1 '),
    '12- repeated': r('12-'),
    '(1) repeated': r('(1) '),
    '+1 - 2 - repeated': r('+1 - 2 - '),
    '0+ repeated': r('0+'),
    '+1.2. repeated': r('+1.2.'),
    '+44 almost-numbers': r('+44 20 79 46.09 '),
    'phones back to back': r('+44 20 7946 0958 '),
    'full windows refused at the end (.4)(00)': r('.4)(00'),
  };
}

/** Typical SMS / bounce text: mostly words, an email or a phone now and then. */
export function typicalText(length: number): string {
  const sentences = [
    'Your verification code is 482913. It expires in 10 minutes. ',
    'Reply STOP to +1 (415) 555-1234 to unsubscribe. Msg&data rates may apply. ',
    '550 5.1.1 <jack.smith@gmail.com>: Recipient address rejected: User unknown in virtual mailbox table. ',
    'Order #100234567 shipped on 2024-01-02, total $1,299.00 (v1.2.3). ',
    'Questions? Call 0044 20 7946 0958 or write to support@example.co.uk any time. ',
    'Hi Ana, your appointment is confirmed for 14:30 tomorrow at our Main St. office. ',
  ];
  let out = '';
  for (let i = 0; out.length < length; i++) out += sentences[i % sentences.length];
  return out.slice(0, length);
}
