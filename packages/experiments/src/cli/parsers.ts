/**
 * Parsers of command-line values for commander: numbers, positive integers, comma-separated
 * lists and per-optimizer learning rates. Errors name the flag and the value.
 */
import { InvalidArgumentError } from 'commander';

/** A commander parser for a finite number. */
export function number(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed)) {
      throw new InvalidArgumentError(`${flag} must be a number, got '${value}'`);
    }
    return parsed;
  };
}

/** A commander parser for a positive integer. */
export function integer(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isInteger(parsed) || parsed < 1) {
      throw new InvalidArgumentError(`${flag} must be a positive integer, got '${value}'`);
    }
    return parsed;
  };
}

/** A commander parser for a non-negative integer (a count that may be 0). */
export function count(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isInteger(parsed) || parsed < 0) {
      throw new InvalidArgumentError(`${flag} must be an integer >= 0, got '${value}'`);
    }
    return parsed;
  };
}

/** A comma-separated list of names. */
export function names(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `name=value,...` pairs of per-optimizer learning rates (`--lr-for sgd=0.5,eva=0.1`). */
export function learningRates(value: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const pair of names(value)) {
    const [name, lr] = pair.split('=');
    const parsed = Number(lr);
    if (!name || lr == null || !(parsed > 0)) {
      throw new InvalidArgumentError(
        `--lr-for expects name=value pairs with value > 0, got '${pair}'`,
      );
    }
    result[name.toLowerCase()] = parsed;
  }
  return result;
}
