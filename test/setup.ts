/**
 * Property tests run from a fixed seed so a CI run is reproducible; set
 * FC_SEED to explore other corners (a failure prints the seed to replay).
 */
import fc from "fast-check";

fc.configureGlobal({ seed: process.env.FC_SEED === undefined ? 20261124 : Number(process.env.FC_SEED) });
