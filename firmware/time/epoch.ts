/**
 * The firmware's build epoch (Unix seconds, 2025-06-01T00:00:00Z): no real
 * clock reads earlier than the firmware that runs on it was written, and the
 * box's service life is counted from it. Raise it with each release; it only
 * ever narrows what the box believes.
 */
export var BUILD_EPOCH_S = 1748736000;
/** The calendar year of BUILD_EPOCH_S. */
export var BUILD_YEAR = 2025;
/** Years after the build year a clock may plausibly read (the box's service life, with margin). */
export var SERVICE_YEARS = 30;
