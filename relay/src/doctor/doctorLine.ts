/** One doctor finding, printed as one line. */
export interface DoctorLine {
  /** false: a mistake to fix (doctor exits 1). */
  ok: boolean;
  check: string;
  detail: string;
  /**
   * Not a failure, but worth reading: a check doctor cannot make (e.g. a managed Redis that
   * refuses CONFIG) or a recommendation. Printed with "!", never changes the exit code.
   */
  advisory?: boolean;
}

export function markOf(line: DoctorLine): string {
  if (!line.ok) return '✘';
  return line.advisory ? '!' : '✔';
}
