/**
 * custody's release version, written into every record and custody event as the actor's version. One constant
 * (a test keeps it equal to package.json's) so ingest, exports watch and sink never disagree.
 */
export const CUSTODY_VERSION = '0.1.0';
