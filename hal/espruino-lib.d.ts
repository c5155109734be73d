/*
 * The parts of ES2015+ that Espruino 2v29 has (../shared/espruino.md), added
 * to the device build's ES5 library. Anything not listed here (Map, Set,
 * Array.from, Math.imul, ...) stays a type error in firmware/.
 */
interface ObjectConstructor {
  assign<T extends object, U>(target: T, source: U): T & U;
  assign<T extends object, U, V>(target: T, a: U, b: V): T & U & V;
  entries<T>(o: { [key: string]: T }): [string, T][];
  setPrototypeOf(o: any, proto: object | null): any;
}
interface Array<T> {
  find(predicate: (value: T, index: number, obj: T[]) => unknown): T | undefined;
  findIndex(predicate: (value: T, index: number, obj: T[]) => unknown): number;
  fill(value: T, start?: number, end?: number): this;
  includes(searchElement: T, fromIndex?: number): boolean;
}
interface String {
  padStart(maxLength: number, fillString?: string): string;
  startsWith(searchString: string, position?: number): boolean;
  repeat(count: number): string;
}
