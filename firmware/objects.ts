/**
 * Deletes names from map; how many there were. Apart from the for-in that
 * finds them: Espruino's for-in ends at a deletion of the key it is on, so
 * a loop that deletes what it walks forgets one entry and stops.
 */
export function deleteAll(map: { [k: string]: unknown }, names: string[]): number {
  for (var i = 0; i < names.length; i++) delete map[names[i]];
  return names.length;
}
